/*
 * envoy-ts socket helpers that Node's `net` module does not offer:
 *   createListenSocket(ip, port, family, reusePort) -> fd   bind only, no listen()
 *   listen(fd, backlog)                                     main listens on the socket it keeps, so
 *                                                           the kernel's accept queue outlives any
 *                                                           worker; each worker then calls
 *                                                           listen({ fd }) on its own dup
 *   dup(fd) -> fd                                           every thread owns (and closes) its fd
 *   close(fd)
 *   localAddress(fd) -> { address, port }                   the port the kernel picked for 0
 *   acceptorStart/Pause/Resume/Close                        see acceptor.c
 *   raiseFileLimit() -> { before, soft, hard }              RLIMIT_NOFILE: soft raised to hard
 *                                                           (-1 means unlimited)
 * Errors throw a JS Error with `code` set to the errno name (EADDRINUSE, EACCES, ...).
 */
#include <node_api.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acceptor.h"

static const char *errno_name(int e) {
  switch (e) {
    case EADDRINUSE: return "EADDRINUSE";
    case EACCES: return "EACCES";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    default: return "EIO";
  }
}

static napi_value throw_errno(napi_env env, const char *syscall, int e) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s failed: %s", syscall, strerror(e));
  napi_throw_error(env, errno_name(e), msg);
  return NULL;
}

static int get_int_arg(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

/* The one argument of dup/close/localAddress: a descriptor. Throws `usage` and returns 0 otherwise. */
static int get_fd_arg(napi_env env, napi_callback_info info, const char *usage, int32_t *fd) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || !get_int_arg(env, argv[0], fd)) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  return 1;
}

static napi_value CreateListenSocket(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) {
    napi_throw_type_error(env, NULL, "createListenSocket(ip, port, family, reusePort)");
    return NULL;
  }
  char ip[64];
  size_t ip_len = 0;
  if (napi_get_value_string_utf8(env, argv[0], ip, sizeof ip, &ip_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "ip must be a string");
    return NULL;
  }
  int32_t port = 0, family = 4;
  bool reuse_port = false;
  get_int_arg(env, argv[1], &port);
  get_int_arg(env, argv[2], &family);
  napi_get_value_bool(env, argv[3], &reuse_port);

  int domain = family == 6 ? AF_INET6 : AF_INET;
  int fd = socket(domain, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "setsockopt(SO_REUSEADDR)", e);
  }
  if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "setsockopt(SO_REUSEPORT)", e);
  }
  int rc;
  if (domain == AF_INET6) {
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, ip, &a.sin6_addr) != 1) {
      close(fd);
      napi_throw_error(env, "EINVAL", "invalid IPv6 address");
      return NULL;
    }
    rc = bind(fd, (struct sockaddr *)&a, sizeof a);
  } else {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
      close(fd);
      napi_throw_error(env, "EINVAL", "invalid IPv4 address");
      return NULL;
    }
    rc = bind(fd, (struct sockaddr *)&a, sizeof a);
  }
  if (rc != 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "bind", e);
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

static napi_value Dup(napi_env env, napi_callback_info info) {
  int32_t fd = -1;
  if (!get_fd_arg(env, info, "dup(fd)", &fd)) return NULL;
  int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (nfd < 0) return throw_errno(env, "dup", errno);
  napi_value result;
  napi_create_int32(env, nfd, &result);
  return result;
}

static napi_value Close(napi_env env, napi_callback_info info) {
  int32_t fd = -1;
  if (!get_fd_arg(env, info, "close(fd)", &fd)) return NULL;
  if (close(fd) != 0 && errno != EINTR) return throw_errno(env, "close", errno);
  return NULL;
}

static napi_value Listen(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1, backlog = 0;
  if (argc < 2 || !get_int_arg(env, argv[0], &fd) || !get_int_arg(env, argv[1], &backlog)) {
    napi_throw_type_error(env, NULL, "listen(fd, backlog)");
    return NULL;
  }
  if (listen(fd, backlog) != 0) return throw_errno(env, "listen", errno);
  return NULL;
}

static napi_value LocalAddress(napi_env env, napi_callback_info info) {
  int32_t fd = -1;
  if (!get_fd_arg(env, info, "localAddress(fd)", &fd)) return NULL;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return throw_errno(env, "getsockname", errno);
  char text[INET6_ADDRSTRLEN];
  int port;
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    port = ntohs(a->sin6_port);
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    port = ntohs(a->sin_port);
  }
  napi_value obj, address, port_v;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &address);
  napi_create_int32(env, port, &port_v);
  napi_set_named_property(env, obj, "address", address);
  napi_set_named_property(env, obj, "port", port_v);
  return obj;
}

static double limit_value(rlim_t v) {
  return v == RLIM_INFINITY ? -1.0 : (double)v;
}

/*
 * Raises the soft RLIMIT_NOFILE to the hard limit, as Envoy's deployments are told to and as a
 * proxy that holds two descriptors per proxied connection needs. An unlimited hard limit cannot
 * be the soft one (Linux caps it at fs.nr_open): then the soft limit is raised as far as the
 * kernel lets it, halving the step on each refusal.
 */
static napi_value RaiseFileLimit(napi_env env, napi_callback_info info) {
  (void)info;
  struct rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return throw_errno(env, "getrlimit", errno);
  rlim_t before = lim.rlim_cur;
  if (lim.rlim_cur != lim.rlim_max) {
    struct rlimit want = lim;
    want.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) != 0) {
      /* Unlimited (or above fs.nr_open): search downwards from 2^20 for what the kernel takes. */
      rlim_t step = (rlim_t)1 << 20;
      want.rlim_cur = lim.rlim_cur;
      while (step > 0) {
        struct rlimit probe = lim;
        probe.rlim_cur = want.rlim_cur + step;
        if (probe.rlim_cur <= lim.rlim_max || lim.rlim_max == RLIM_INFINITY) {
          if (setrlimit(RLIMIT_NOFILE, &probe) == 0) want.rlim_cur = probe.rlim_cur;
        }
        step >>= 1;
      }
    }
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return throw_errno(env, "getrlimit", errno);
  }
  napi_value obj, v;
  napi_create_object(env, &obj);
  napi_create_double(env, limit_value(before), &v);
  napi_set_named_property(env, obj, "before", v);
  napi_create_double(env, limit_value(lim.rlim_cur), &v);
  napi_set_named_property(env, obj, "soft", v);
  napi_create_double(env, limit_value(lim.rlim_max), &v);
  napi_set_named_property(env, obj, "hard", v);
  return obj;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"createListenSocket", NULL, CreateListenSocket, NULL, NULL, NULL, napi_default, NULL},
    {"dup", NULL, Dup, NULL, NULL, NULL, napi_default, NULL},
    {"listen", NULL, Listen, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, Close, NULL, NULL, NULL, napi_default, NULL},
    {"localAddress", NULL, LocalAddress, NULL, NULL, NULL, napi_default, NULL},
    {"raiseFileLimit", NULL, RaiseFileLimit, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  acceptor_define(env, exports);
  return exports;
}

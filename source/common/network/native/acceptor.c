/*
 * A listen-socket acceptor that reports accept errors instead of hiding them.
 *
 * libuv (and so net.Server) answers EMFILE/ENFILE on accept with its "emfile trick": it closes a
 * reserved descriptor, accepts every pending connection and closes it at once, and tells nobody
 * (issue 18: nothing counted, nothing backed off). This acceptor polls the listen socket on the
 * calling thread's own libuv loop, accepts with accept4(), hands each new descriptor to JS, and
 * on an error other than EAGAIN/EINTR/ECONNABORTED stops polling and reports the errno name:
 * the pending connections stay in the kernel's accept queue until JS resumes it.
 *
 *   acceptorStart(fd, backlog, callback(fd, errorName)) -> handle  listen() + start polling
 *   acceptorPause(handle) / acceptorResume(handle)
 *   acceptorClose(handle)                                          stops and closes fd
 *
 * callback(fd >= 0, undefined) for a connection (JS owns fd), callback(-1, 'EMFILE') for an
 * error (the acceptor is then paused).
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

#include "acceptor.h"

/* Connections accepted per readable event before yielding to the loop (fairness). */
#define MAX_ACCEPTS_PER_EVENT 128

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  int fd;
  int polling;
  int closed;
} acceptor_t;

static const char *accept_errno_name(int e) {
  switch (e) {
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOBUFS: return "ENOBUFS";
    case ENOMEM: return "ENOMEM";
    case EPERM: return "EPERM";
    case EPROTO: return "EPROTO";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    default: return "EIO";
  }
}

static void call_js(acceptor_t *a, int fd, const char *error) {
  napi_env env = a->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    if (fd >= 0) close(fd);
    return;
  }
  napi_value cb, recv, argv[2], result;
  napi_get_reference_value(env, a->callback, &cb);
  napi_get_global(env, &recv);
  napi_create_int32(env, fd, &argv[0]);
  if (error != NULL) napi_create_string_utf8(env, error, NAPI_AUTO_LENGTH, &argv[1]);
  else napi_get_undefined(env, &argv[1]);
  if (cb == NULL || napi_make_callback(env, a->async, recv, cb, 2, argv, &result) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      /* The thread's uncaughtException handler decides (envoy-ts logs and counts it). */
      napi_fatal_exception(env, err);
    }
  }
  napi_close_handle_scope(env, scope);
}

static int accept_one(int listen_fd) {
#ifdef __linux__
  return accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
#else
  int fd = accept(listen_fd, NULL, NULL);
  if (fd >= 0) {
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  return fd;
#endif
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  acceptor_t *a = (acceptor_t *)handle->data;
  if (status < 0) return;
  for (int i = 0; i < MAX_ACCEPTS_PER_EVENT && a->polling && !a->closed; i++) {
    int fd = accept_one(a->fd);
    if (fd >= 0) {
      call_js(a, fd, NULL);
      continue;
    }
    int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK) return;
    if (e == EINTR || e == ECONNABORTED) continue;
    /* Out of descriptors or memory: stop, keep the queue, let JS back off and resume. */
    uv_poll_stop(&a->poll);
    a->polling = 0;
    call_js(a, -1, accept_errno_name(e));
    return;
  }
}

static void on_closed(uv_handle_t *handle) {
  free(handle->data);
}

static void acceptor_close(acceptor_t *a) {
  if (a->closed) return;
  a->closed = 1;
  a->polling = 0;
  napi_delete_reference(a->env, a->callback);
  napi_async_destroy(a->env, a->async);
  a->callback = NULL;
  close(a->fd);
  uv_close((uv_handle_t *)&a->poll, on_closed);
}

static void cleanup_hook(void *arg) {
  acceptor_close((acceptor_t *)arg);
}

static acceptor_t *get_acceptor(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data = NULL;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "expected an acceptor handle");
    return NULL;
  }
  return (acceptor_t *)data;
}

static napi_value throw_code(napi_env env, int e, const char *what) {
  napi_throw_error(env, accept_errno_name(e), what);
  return NULL;
}

static napi_value AcceptorStart(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1, backlog = 511;
  napi_valuetype t = napi_undefined;
  if (argc >= 3) napi_typeof(env, argv[2], &t);
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int32(env, argv[1], &backlog) != napi_ok ||
      t != napi_function) {
    napi_throw_type_error(env, NULL, "acceptorStart(fd, backlog, callback)");
    return NULL;
  }
  if (listen(fd, backlog) != 0) return throw_code(env, errno, "listen failed");
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == NULL) {
    napi_throw_error(env, "EIO", "no event loop");
    return NULL;
  }
  acceptor_t *a = (acceptor_t *)calloc(1, sizeof *a);
  if (a == NULL) return throw_code(env, ENOMEM, "out of memory");
  a->env = env;
  a->fd = fd;
  int rc = uv_poll_init(loop, &a->poll, fd);
  if (rc != 0) {
    free(a);
    napi_throw_error(env, "EIO", uv_strerror(rc));
    return NULL;
  }
  a->poll.data = a;
  napi_value name;
  napi_create_string_utf8(env, "envoy_ts.acceptor", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &a->async);
  napi_create_reference(env, argv[2], 1, &a->callback);
  napi_add_env_cleanup_hook(env, cleanup_hook, a);
  uv_poll_start(&a->poll, UV_READABLE, on_readable);
  a->polling = 1;
  napi_value handle;
  napi_create_external(env, a, NULL, NULL, &handle);
  return handle;
}

static napi_value AcceptorPause(napi_env env, napi_callback_info info) {
  acceptor_t *a = get_acceptor(env, info);
  if (a != NULL && !a->closed && a->polling) {
    uv_poll_stop(&a->poll);
    a->polling = 0;
  }
  return NULL;
}

static napi_value AcceptorResume(napi_env env, napi_callback_info info) {
  acceptor_t *a = get_acceptor(env, info);
  if (a != NULL && !a->closed && !a->polling) {
    uv_poll_start(&a->poll, UV_READABLE, on_readable);
    a->polling = 1;
  }
  return NULL;
}

static napi_value AcceptorClose(napi_env env, napi_callback_info info) {
  acceptor_t *a = get_acceptor(env, info);
  if (a != NULL && !a->closed) {
    napi_remove_env_cleanup_hook(env, cleanup_hook, a);
    acceptor_close(a);
  }
  return NULL;
}

void acceptor_define(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"acceptorStart", NULL, AcceptorStart, NULL, NULL, NULL, napi_default, NULL},
    {"acceptorPause", NULL, AcceptorPause, NULL, NULL, NULL, napi_default, NULL},
    {"acceptorResume", NULL, AcceptorResume, NULL, NULL, NULL, napi_default, NULL},
    {"acceptorClose", NULL, AcceptorClose, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}

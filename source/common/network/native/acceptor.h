#ifndef ENVOY_TS_ACCEPTOR_H
#define ENVOY_TS_ACCEPTOR_H
#include <node_api.h>

/* Adds acceptorStart/Pause/Resume/Close to the addon's exports (see acceptor.c). */
void acceptor_define(napi_env env, napi_value exports);

#endif

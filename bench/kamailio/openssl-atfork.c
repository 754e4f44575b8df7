/*
 * LD_PRELOAD helper for the benchmarks' Kamailio 5.6 peer on OpenSSL 3. With more than one TCP
 * worker, Kamailio 5.6 crashes under parallel TLS load because OpenSSL's per-thread state is
 * inherited across fork() (Kamailio issues 3635/3695/3791, fixed later by tls_threads_mode).
 * Releasing that state in the parent just before every fork avoids it. The function is looked up
 * at run time, in the libcrypto the tls module brought in (a module's dependencies are not in the
 * global symbol scope), so no OpenSSL headers are needed to build this; bench/RESULTS.md says it
 * was used.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>

static void release_openssl_thread_state(void) {
  void *libcrypto = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_NOLOAD);
  if (!libcrypto) return; /* not loaded yet: nothing to release */
  void (*stop)(void) = (void (*)(void))dlsym(libcrypto, "OPENSSL_thread_stop");
  if (stop) stop();
  dlclose(libcrypto);
}

__attribute__((constructor)) static void install(void) {
  pthread_atfork(release_openssl_thread_state, 0, 0);
}

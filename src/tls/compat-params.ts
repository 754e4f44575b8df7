// Kamailio tls parameters (002 §10) that are accepted for compatibility: those Node/OpenSSL 3 gives a
// meaning to, and those without one (accepted with a notice, never silently ignored).
export const kamailioCompatShape = {};

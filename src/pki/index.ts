// The PKI layer: keys, CAs, certificates, CRLs, the file-backed CA folder and the first-run test PKI.
export * from './keys.js';
export * from './names.js';
export * from './serial.js';
export * from './authority.js';
export * from './crl.js';
export * from './store.js';
export * from './test-pki.js';
export { x509 } from './x509.js';

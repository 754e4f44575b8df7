// The single entry point to @peculiar/x509: loads the Reflect metadata polyfill its dependency
// tsyringe needs at import time, and points it at Node's WebCrypto. Other modules import `x509`
// from here, never from the package directly.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

export { x509 };

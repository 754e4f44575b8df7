// The registrar and its location store: OpenSIPS's registrar + usrloc as a library the routing
// script calls.
export {
  defaultRegistrarConfig,
  registrarConfigSchema,
  registrarConfigShape,
  type RegistrarConfig,
} from './config.js';
export { aorKey, aorOfUri, parseAor, type Aor } from './aor.js';
export { applyBinding, contactValue, orderBindings, type Binding } from './binding.js';
export { Location, type LoadResult, type LocationOptions } from './location.js';
export { LOCATION_VERSION, LocationTable, rowToBinding } from './location-table.js';
export { planRegister, registerAor, type RegisterPolicy, type RegisterSource } from './plan.js';
export {
  Registrar,
  openRegistrar,
  type OpenRegistrarOptions,
  type RegistrarOptions,
  type SaveOptions,
  type SaveResult,
} from './registrar.js';
export { sameUri } from './uri-match.js';

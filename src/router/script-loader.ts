// Loads the user's routing script by path. TypeScript is compiled on the fly by tsx (no build step
// for users); plain .js/.mjs modules load natively.
import { pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import type { Script } from './script.js';

export class ScriptLoadError extends Error {}

export async function loadScript(path: string): Promise<Script> {
  let mod: { default?: unknown };
  try {
    mod = /\.(c|m)?ts$/.test(path)
      ? await tsImport(pathToFileURL(path).href, import.meta.url)
      : await import(pathToFileURL(path).href);
  } catch (err) {
    throw new ScriptLoadError(
      `routing script ${path}: cannot load: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  // A .ts file outside an ES-module package is compiled as CommonJS: its default export then sits
  // one level deeper, under module.exports.default.
  let script = mod.default as (Partial<Script> & { default?: unknown }) | undefined;
  if (script && typeof script.request !== 'function' && script.default)
    script = script.default as Partial<Script>;
  if (!script || typeof script.request !== 'function') {
    throw new ScriptLoadError(
      `routing script ${path}: its default export must be an object with a request(ctx) function (see README "Write a routing script")`,
    );
  }
  if (script.reply !== undefined && typeof script.reply !== 'function') {
    throw new ScriptLoadError(`routing script ${path}: "reply" must be a function`);
  }
  return script as Script;
}

/**
 * The `--schemas <module>` option of the CLIs: a module whose exports hold the application's
 * schemas.
 *
 * @module
 */

import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { schemasFromModule } from "../inspect/mod.ts";
import type { SchemaRegistry } from "../protocol/mod.ts";

/**
 * Imports a module by path (relative to the working directory) and collects its schemas.
 *
 * @param path The module's path.
 * @returns Its schemas.
 * @throws {Error} When the module does not load or its schemas conflict.
 */
export async function loadSchemas(path: string): Promise<SchemaRegistry> {
  return schemasFromModule(await import(pathToFileURL(resolve(path)).href));
}

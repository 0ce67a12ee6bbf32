/**
 * Writing a plan into its output directory. Secrets are created 0600 (and chmod-ed, in case the
 * file existed), everything else 0644. A directory that is not empty is refused unless `force`:
 * then files of the new plan overwrite, and files the previous plan wrote (listed in its
 * `.meridian-plan` manifest) that the new one no longer has are removed; nothing else is touched.
 */
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { ErrorCode, MeridianError } from '../errors/mod.js';
import type { PlannedFile } from './types.js';

export const MANIFEST = '.meridian-plan';

async function entries(dir: string): Promise<string[] | undefined> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function previousManifest(dir: string): Promise<string[]> {
  try {
    return (await readFile(join(dir, MANIFEST), 'utf8')).split('\n').filter((l) => l !== '');
  } catch {
    return [];
  }
}

/** Throws `INVALID_ARGUMENT` if `dir` is a non-empty directory and `force` is not set. */
export async function assertWritable(dir: string, force: boolean): Promise<void> {
  const existing = await entries(dir);
  if (existing !== undefined && existing.length > 0 && !force) {
    throw new MeridianError(ErrorCode.InvalidArgument, `${dir} is not empty: choose an empty directory, or pass --force to overwrite the files of a previous plan`, { details: { dir } });
  }
}

export async function writePlanFiles(dir: string, files: readonly PlannedFile[], opts: { force?: boolean } = {}): Promise<void> {
  const root = resolve(dir);
  await assertWritable(root, opts.force === true);
  const target = (path: string): string => {
    const full = resolve(root, path);
    if (!full.startsWith(root + sep)) throw new MeridianError(ErrorCode.InvalidArgument, `planned file ${path} is outside the output directory`);
    return full;
  };
  const keep = new Set(files.map((f) => f.path));
  for (const stale of await previousManifest(root)) {
    if (!keep.has(stale)) await rm(target(stale), { force: true });
  }
  await mkdir(root, { recursive: true });
  for (const f of files) {
    const full = target(f.path);
    await mkdir(dirname(full), { recursive: true });
    const mode = f.secret ? 0o600 : 0o644;
    // A new file gets its mode at creation, so a secret is never readable by others, even briefly.
    await rm(full, { force: true });
    await writeFile(full, f.content, { mode });
    await chmod(full, mode);
  }
  await writeFile(join(root, MANIFEST), `${[...keep].sort().join('\n')}\n`, { mode: 0o644 });
}

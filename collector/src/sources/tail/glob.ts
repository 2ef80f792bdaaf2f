/**
 * Glob expansion for the tail source with node:fs and picomatch: walk each pattern's static base
 * folder no deeper than the pattern can match (any depth for `**`, capped), match full paths.
 * Also returns the folders walked, which the tail source watches for new files.
 */
import { readdir, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import picomatch from 'picomatch';

const MAX_DEPTH = 16;
const MAX_DIRS = 10_000;

export interface GlobMatch {
  path: string;
  stats: Stats;
}

export interface GlobResult {
  files: GlobMatch[];
  /** Folders that were read (where new matches can appear). */
  dirs: string[];
}

export class GlobSet {
  readonly #patterns: { base: string; depth: number; match: (p: string) => boolean; literal: boolean; pattern: string }[];
  readonly #exclude: ((p: string) => boolean) | null;

  constructor(patterns: readonly string[], exclude: readonly string[] = []) {
    this.#patterns = patterns.map((raw) => {
      const pattern = resolve(raw);
      const scan = picomatch.scan(pattern);
      const depth = scan.glob.includes('**') ? MAX_DEPTH : scan.glob.split('/').length;
      return { pattern, base: scan.isGlob ? scan.base || '/' : pattern, depth, literal: !scan.isGlob, match: picomatch(pattern, { dot: true }) };
    });
    this.#exclude = exclude.length > 0 ? picomatch(exclude.map((e) => resolve(e)), { dot: true }) : null;
  }

  /** Whether `path` (absolute) matches an include pattern and no exclude pattern. */
  matches(path: string): boolean {
    if (this.#exclude?.(path)) return false;
    return this.#patterns.some((p) => p.match(path));
  }

  /** Regular files matching now (symlinks followed), sorted by path. */
  async expand(): Promise<GlobResult> {
    const files = new Map<string, Stats>();
    const dirs = new Set<string>();
    for (const p of this.#patterns) {
      if (p.literal) {
        const s = await statOrNull(p.pattern);
        if (s?.isFile() && !this.#exclude?.(p.pattern)) files.set(p.pattern, s);
        dirs.add(resolve(p.pattern, '..'));
        continue;
      }
      await this.#walk(p.base, p.depth, p.match, files, dirs);
    }
    return { files: [...files].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([path, stats]) => ({ path, stats })), dirs: [...dirs] };
  }

  async #walk(dir: string, depth: number, match: (p: string) => boolean, files: Map<string, Stats>, dirs: Set<string>): Promise<void> {
    if (depth <= 0 || dirs.size >= MAX_DIRS) return;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // missing or unreadable folder: nothing matches there (yet)
    }
    dirs.add(dir);
    for (const entry of entries) {
      const path = join(dir, entry.name);
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        const s = await statOrNull(path);
        isDir = s?.isDirectory() ?? false;
        isFile = s?.isFile() ?? false;
      }
      if (isFile && !files.has(path) && match(path) && !this.#exclude?.(path)) {
        const s = await statOrNull(path);
        if (s?.isFile()) files.set(path, s);
      } else if (isDir && depth > 1) {
        await this.#walk(path, depth - 1, match, files, dirs);
      }
    }
  }
}

async function statOrNull(path: string): Promise<Stats | null> {
  try {
    return await stat(path);
  } catch {
    return null;
  }
}

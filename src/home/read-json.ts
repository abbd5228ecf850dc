import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { z } from 'zod';
import { SipsecError, errnoCode, messageOf } from '../core/errors.js';
import { isDenied, notReadable } from './writable.js';

/** A JSON file of the CA home, validated with zod: a hand-edited or truncated file is reported, never trusted. */
export async function readJson<T>(file: string, schema: z.ZodType<T>, what: string): Promise<T> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') throw new SipsecError('CA_MISSING', `no CA in ${file.replace(/\/[^/]+$/, '')}`, 'create one with: sipsec ca init --org ORG --domain DOMAIN (or point --home / SIPSEC_HOME at an existing one)');
    if (isDenied(e)) throw await notReadable(path.dirname(file), e);
    throw new SipsecError('UNREADABLE', `cannot read ${file}: ${messageOf(e)}`, 'check its permissions');
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new SipsecError('CA_CORRUPT', `${what} ${file} is not valid JSON: ${messageOf(e)}`, 'restore it from a backup');
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new SipsecError('CA_CORRUPT', `${what} ${file} is invalid at ${first?.path.join('.') || '(root)'}: ${first?.message ?? ''}`, 'restore it from a backup');
  }
  return parsed.data;
}

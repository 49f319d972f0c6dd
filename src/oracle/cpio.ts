// Writes a cpio archive in the kernel's "newc" format: the host
// appends one holding /prog.txt to the base initramfs (the kernel unpacks concatenated archives).

/** One regular file of the archive. */
export interface CpioFile {
  /** Path inside the archive, without a leading slash (e.g. `prog.txt`). */
  readonly name: string;
  readonly data: Uint8Array;
  /** Permission bits; default 0o644. */
  readonly mode?: number;
}

const S_IFREG = 0o100000;

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function entry(ino: number, name: string, mode: number, data: Uint8Array): Buffer {
  const nameBytes = Buffer.from(name + '\0', 'utf8');
  const hex = (v: number): string => v.toString(16).padStart(8, '0');
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  const fields = [ino, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0];
  const header = Buffer.from('070701' + fields.map(hex).join(''), 'ascii');
  return Buffer.concat([
    header, nameBytes, Buffer.alloc(pad4(header.length + nameBytes.length)),
    Buffer.from(data), Buffer.alloc(pad4(data.length)),
  ]);
}

/** A newc archive of `files` ending with the TRAILER!!! entry, padded to 512 bytes. */
export function newcArchive(files: readonly CpioFile[]): Buffer {
  const parts: Buffer[] = [];
  files.forEach((f, i) => {
    if (f.name.length === 0 || f.name.startsWith('/') || f.name.includes('\0')) {
      throw new Error(`cpio: bad file name '${f.name}'`);
    }
    if (f.data.length > 0xffffffff) throw new Error(`cpio: ${f.name} is larger than 4 GiB`);
    parts.push(entry(i + 1, f.name, S_IFREG | (f.mode ?? 0o644), f.data));
  });
  parts.push(entry(0, 'TRAILER!!!', 0, new Uint8Array(0)));
  const body = Buffer.concat(parts);
  return Buffer.concat([body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}

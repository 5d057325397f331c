// Debian's `docker-registry` on loopback for the end-to-end tests, and `skopeo` pushing tiny
// images into it: an OCI image layout written here (an empty layer, a config carrying a label,
// so two labels are two images), copied to `<repository>:<tag>`.

import { spawn, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A free port on loopback. */
async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Whether something accepts connections on `port`. */
function listening(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** Writes an OCI layout holding one image, tagged `latest`, labelled `label`. */
function layout(dir, label) {
  const blobs = path.join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const blob = (bytes) => {
    const hex = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(path.join(blobs, hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const layer = blob(Buffer.alloc(1024));
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Labels: { 'tripline.test': label } },
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      }),
    ),
  );
  const manifest = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      }),
    ),
  );
  writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'org.opencontainers.image.ref.name': 'latest' },
        },
      ],
    }),
  );
  writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
}

/**
 * Starts a registry; `{host, push(target, label) → digest, stop()}`. `target` is
 * `repository:tag`; the image pushed is one labelled `label` (the same label, the same image).
 */
export async function startRegistry() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tripline-e2e-registry-'));
  const port = await freePort();
  const config = path.join(dir, 'registry.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/storage\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`,
  );
  const log = openSync(path.join(dir, 'registry.log'), 'w');
  const daemon = spawn('docker-registry', ['serve', config], { stdio: ['ignore', log, log] });
  const deadline = Date.now() + 15_000;
  while (!(await listening(port))) {
    if (daemon.exitCode !== null || Date.now() > deadline) {
      throw new Error(`docker-registry did not start: ${readFileSync(path.join(dir, 'registry.log'), 'utf8')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const host = `127.0.0.1:${port}`;
  return {
    host,
    async push(target, label) {
      const images = path.join(dir, 'layouts', label.replace(/[^A-Za-z0-9.-]/g, '_'));
      layout(images, label);
      const digestFile = path.join(dir, `digest-${Date.now()}-${Math.random()}`);
      await run('skopeo', [
        '--insecure-policy',
        'copy',
        '--dest-tls-verify=false',
        '--digestfile',
        digestFile,
        `oci:${images}:latest`,
        `docker://${host}/${target}`,
      ]);
      return readFileSync(digestFile, 'utf8').trim();
    },
    stop() {
      daemon.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

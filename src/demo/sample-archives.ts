import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { formatArchiveName, formatArchiveTimestamp, pinFileNameOf } from '../archive/archive-name.js';
import { encodeTar, writeTarFile, type TarEntrySpec, type TarFormat } from './tar-writer.js';

/** Which runtime's annotations spec.dump carries; `podman` and `none` carry no Kubernetes identity. */
export type SampleRuntime = 'cri-o' | 'containerd' | 'criu' | 'podman' | 'none';

/**
 * Which entries the archive holds, in which order: as CRI-O writes them, as containerd writes them, or
 * a minimal set (the CRIU images, the two dump files, rootfs-diff.tar and stats-dump).
 */
export type SampleLayout = 'cri-o' | 'containerd' | 'minimal';

export interface SampleArchiveOptions {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  /** The instant in the file name; text is used verbatim (any zone or fraction). */
  readonly timestamp: Date | string;
  readonly runtime: SampleRuntime;
  /** Size of the memory-pages image, the bulk of a real checkpoint. Default 16 KiB. */
  readonly payloadBytes?: number;
  /** Leave the pages image as a hole: a large archive then costs almost no disk. */
  readonly sparsePayload?: boolean;
  /** File modification time of the archive. */
  readonly mtime?: Date;
  /** Replaces spec.dump: an object is serialized, a string is written as-is. */
  readonly specDumpOverride?: unknown;
  /** Replaces config.dump likewise. */
  readonly configDumpOverride?: unknown;
  /** Extra annotations merged over the runtime's ones (a value of undefined removes a key). */
  readonly extraAnnotations?: Readonly<Record<string, string | undefined>>;
  readonly format?: TarFormat;
  /** Use this file name instead of the kubelet-style one. */
  readonly fileName?: string;
  /** Image reference recorded in config.dump and the annotations. */
  readonly image?: string;
  /** Entry layout; by default CRI-O's for `cri-o`, containerd's for `containerd`, minimal otherwise. */
  readonly layout?: SampleLayout;
  /** Entries left out (e.g. `checkpoint/inventory.img`, which makes the archive unrestorable). */
  readonly omitEntries?: readonly string[];
  /** Write the archive gzip-compressed (the name stays `.tar`, as the kubelet names it). */
  readonly compression?: 'gzip';
}

const DEFAULT_PAYLOAD_BYTES = 16 * 1024;

function hexId(seed: string, length = 64): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, length);
}

function podUid(namespace: string, pod: string): string {
  const hex = hexId(`uid/${namespace}/${pod}`, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function imageOf(options: SampleArchiveOptions): string {
  return options.image ?? `registry.example.com/${options.namespace}/${options.container}:1.4.2`;
}

/** The annotations each runtime puts into the OCI spec of a Kubernetes container. */
export function runtimeAnnotations(options: SampleArchiveOptions): Record<string, string> {
  const { namespace, pod, container } = options;
  const uid = podUid(namespace, pod);
  const containerId = hexId(`container/${namespace}/${pod}/${container}`);
  const sandboxId = hexId(`sandbox/${namespace}/${pod}`);
  switch (options.runtime) {
    case 'cri-o':
      return {
        'io.container.manager': 'cri-o',
        'io.kubernetes.container.hash': hexId(container, 8),
        'io.kubernetes.container.name': container,
        'io.kubernetes.container.ports': JSON.stringify([{ containerPort: 8080, protocol: 'TCP' }]),
        'io.kubernetes.container.restartCount': '0',
        'io.kubernetes.container.terminationMessagePath': '/dev/termination-log',
        'io.kubernetes.container.terminationMessagePolicy': 'File',
        'io.kubernetes.cri-o.Annotations': JSON.stringify({
          'io.kubernetes.container.hash': hexId(container, 8),
          'io.kubernetes.container.restartCount': '0',
          'io.kubernetes.container.terminationMessagePath': '/dev/termination-log',
          'io.kubernetes.container.terminationMessagePolicy': 'File',
          'io.kubernetes.pod.terminationGracePeriod': '30',
        }),
        'io.kubernetes.cri-o.ContainerID': containerId,
        'io.kubernetes.cri-o.ContainerType': 'container',
        'io.kubernetes.cri-o.Created': '2024-01-27T23:58:02.113447185Z',
        'io.kubernetes.cri-o.IP.0': '10.85.0.17',
        'io.kubernetes.cri-o.IP.1': '1100:200::11',
        'io.kubernetes.cri-o.Image': `${imageOf(options).replace(/:[^:/]*$/, '')}@sha256:${hexId(`digest/${imageOf(options)}`)}`,
        'io.kubernetes.cri-o.ImageName': imageOf(options),
        'io.kubernetes.cri-o.ImageRef': hexId(`image/${imageOf(options)}`),
        'io.kubernetes.cri-o.Labels': JSON.stringify({
          'io.kubernetes.container.name': container,
          'io.kubernetes.pod.name': pod,
          'io.kubernetes.pod.namespace': namespace,
          'io.kubernetes.pod.uid': uid,
        }),
        'io.kubernetes.cri-o.LogPath': `/var/log/pods/${namespace}_${pod}_${uid}/${container}/0.log`,
        'io.kubernetes.cri-o.Metadata': JSON.stringify({ name: container }),
        'io.kubernetes.cri-o.MountPoint': `/var/lib/containers/storage/overlay/${hexId(`rootfs/${pod}/${container}`)}/merged`,
        'io.kubernetes.cri-o.Name': `k8s_${container}_${pod}_${namespace}_${uid}_0`,
        'io.kubernetes.cri-o.PlatformRuntimePath': '',
        'io.kubernetes.cri-o.ResolvPath': `/run/containers/storage/overlay-containers/${sandboxId}/userdata/resolv.conf`,
        'io.kubernetes.cri-o.SandboxID': sandboxId,
        'io.kubernetes.cri-o.SandboxName': `k8s_${pod}_${namespace}_${uid}_0`,
        'io.kubernetes.cri-o.SeccompProfilePath': 'RuntimeDefault',
        'io.kubernetes.cri-o.Stdin': 'false',
        'io.kubernetes.cri-o.StdinOnce': 'false',
        'io.kubernetes.cri-o.TTY': 'false',
        'io.kubernetes.cri-o.Volumes': JSON.stringify([
          { container_path: '/etc/hosts', host_path: `/var/lib/kubelet/pods/${uid}/etc-hosts`, readonly: false, propagation: 0, selinux_relabel: false },
          { container_path: '/dev/termination-log', host_path: `/var/lib/kubelet/pods/${uid}/containers/${container}/${hexId(`log/${container}`, 8)}`, readonly: false, propagation: 0, selinux_relabel: false },
        ]),
        'io.kubernetes.pod.name': pod,
        'io.kubernetes.pod.namespace': namespace,
        'io.kubernetes.pod.terminationGracePeriod': '30',
        'io.kubernetes.pod.uid': uid,
        'kubernetes.io/config.seen': '2024-01-27T23:57:58.287925074Z',
        'kubernetes.io/config.source': 'api',
        'org.opencontainers.image.stopSignal': 'SIGTERM',
        'org.systemd.property.After': "['crio.service']",
        'org.systemd.property.CollectMode': "'inactive-or-failed'",
        'org.systemd.property.DefaultDependencies': 'true',
        'org.systemd.property.TimeoutStopUSec': 'uint64 30000000',
      };
    case 'containerd':
      return {
        'io.kubernetes.cri.container-name': container,
        'io.kubernetes.cri.container-type': 'container',
        'io.kubernetes.cri.image-name': imageOf(options),
        'io.kubernetes.cri.sandbox-id': sandboxId,
        'io.kubernetes.cri.sandbox-name': pod,
        'io.kubernetes.cri.sandbox-namespace': namespace,
        'io.kubernetes.cri.sandbox-uid': uid,
      };
    case 'criu':
      return {
        'org.criu.checkpoint.container.name': container,
        'org.criu.checkpoint.pod.name': pod,
        'org.criu.checkpoint.pod.namespace': namespace,
        'org.criu.checkpoint.runtime': 'runc',
      };
    case 'podman':
      return { 'io.container.manager': 'libpod' };
    case 'none':
      return {};
  }
}

/** A trimmed but structurally real OCI runtime spec. */
export function sampleSpecDump(options: SampleArchiveOptions): Record<string, unknown> {
  const annotations: Record<string, string> = { ...runtimeAnnotations(options) };
  for (const [key, value] of Object.entries(options.extraAnnotations ?? {})) {
    if (value === undefined) delete annotations[key];
    else annotations[key] = value;
  }
  return {
    ociVersion: '1.0.2-dev',
    process: {
      user: { uid: 0, gid: 0 },
      args: ['/usr/local/bin/server', '--listen=:8080'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `HOSTNAME=${options.pod}`],
      cwd: '/',
      capabilities: { bounding: ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE'], effective: ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE'] },
      oomScoreAdj: 1000,
    },
    root: { path: `/var/lib/containers/storage/overlay/${hexId(`rootfs/${options.pod}/${options.container}`)}/merged` },
    hostname: options.pod,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/etc/hosts', type: 'bind', source: `/var/lib/kubelet/pods/${podUid(options.namespace, options.pod)}/etc-hosts`, options: ['rw', 'rbind'] },
    ],
    annotations,
    linux: {
      resources: { memory: { limit: 268435456 }, cpu: { shares: 102, quota: 20000, period: 100000 } },
      cgroupsPath: `kubepods-burstable-pod${podUid(options.namespace, options.pod).replaceAll('-', '_')}.slice:crio:${hexId(options.container)}`,
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }],
    },
  };
}

function sampleConfigDump(options: SampleArchiveOptions, checkpointedAt: string): Record<string, unknown> {
  const uid = podUid(options.namespace, options.pod);
  return {
    id: hexId(`container/${options.namespace}/${options.pod}/${options.container}`),
    name: `k8s_${options.container}_${options.pod}_${options.namespace}_${uid}_0`,
    rootfsImage: imageOf(options),
    rootfsImageRef: hexId(`image/${imageOf(options)}`),
    rootfsImageName: imageOf(options),
    runtime: 'runc',
    createdTime: '2024-01-27T23:58:02.113447185Z',
    checkpointedTime: checkpointedAt,
    restoredTime: '0001-01-01T00:00:00Z',
    restored: false,
  };
}

function dumpText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Deterministic, incompressible-looking filler (xorshift32 seeded from the seed's hash), so archives
 * of equal options are byte-identical and megabytes cost milliseconds.
 */
function fillerBytes(length: number, seed: string): Uint8Array {
  const words = new Uint32Array(Math.ceil(length / 4));
  let state = createHash('sha256').update(seed).digest().readUInt32LE(0) || 0x9e3779b9;
  for (let index = 0; index < words.length; index += 1) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    words[index] = state;
  }
  return new Uint8Array(words.buffer, 0, length);
}

/** What CRIU logs while dumping: the first lines of a real dump.log, with this archive's numbers. */
function dumpLog(seed: string): string {
  const pid = 1 + (createHash('sha256').update(seed).digest().readUInt16LE(0) % 30000);
  return [
    '(00.000000) Version: 3.19 (gitid v3.19)',
    '(00.000012) Running on node-1 Linux 6.8.0 #1 SMP x86_64',
    `(00.000034) Dumping processes (pid: ${pid} comm: server)`,
    '(00.000102) Will dump/restore TCP connections',
    `(00.004311) Seized task ${pid}, state 0`,
    `(00.121907) Dumping pages (type: 56 pid: ${pid})`,
    '(00.204533) Writing stats',
    '(00.204790) Dumping finished successfully',
    '',
  ].join('\n');
}

/** The CRIU image directory, sorted as a directory walk lists it: the memory pages sit among the small images. */
function criuImages(options: SampleArchiveOptions, seed: string): TarEntrySpec[] {
  const payloadBytes = options.payloadBytes ?? DEFAULT_PAYLOAD_BYTES;
  const pages: TarEntrySpec = options.sparsePayload
    ? { name: 'checkpoint/pages-1.img', holeBytes: payloadBytes }
    : { name: 'checkpoint/pages-1.img', body: fillerBytes(payloadBytes, seed) };
  return [
    { name: 'checkpoint/', type: 'directory' },
    { name: 'checkpoint/cgroup.img', body: fillerBytes(310, `${seed}/cgroup`) },
    { name: 'checkpoint/core-1.img', body: fillerBytes(1860, `${seed}/core`) },
    { name: 'checkpoint/descriptors.json', body: '["/dev/null","pipe:[61532]","pipe:[61533]"]' },
    { name: 'checkpoint/files.img', body: fillerBytes(620, `${seed}/files`) },
    { name: 'checkpoint/fs-1.img', body: fillerBytes(18, `${seed}/fs`) },
    { name: 'checkpoint/inventory.img', body: fillerBytes(42, `${seed}/inventory`) },
    { name: 'checkpoint/mm-1.img', body: fillerBytes(1434, `${seed}/mm`) },
    { name: 'checkpoint/pagemap-1.img', body: fillerBytes(166, `${seed}/pagemap`) },
    pages,
    { name: 'checkpoint/pstree.img', body: fillerBytes(26, `${seed}/pstree`) },
  ];
}

/**
 * containerd's record of the container's state, kept beside the checkpoint as `status`. Its times are
 * int64 nanoseconds, beyond a JavaScript number, so the text is written as is.
 */
function containerdStatus(): string {
  return (
    '{"Version":"v1","Status":{"Pid":4242,"CreatedAt":1706399882113447185,"StartedAt":1706399882513447185,"FinishedAt":0,' +
    '"ExitCode":0,"Reason":"","Message":"","Starting":false,"Removing":false,"Unknown":false}}'
  );
}

/** The CRI status of the container at checkpoint time (`status.dump`). */
function containerdStatusDump(options: SampleArchiveOptions): Record<string, unknown> {
  const { namespace, pod, container } = options;
  return {
    id: hexId(`container/${namespace}/${pod}/${container}`),
    metadata: { name: container, attempt: 0 },
    state: 'CONTAINER_RUNNING',
    createdAt: '1706399882113447185',
    startedAt: '1706399882513447185',
    image: { image: imageOf(options) },
    imageRef: `sha256:${hexId(`image/${imageOf(options)}`)}`,
    labels: { 'io.kubernetes.container.name': container, 'io.kubernetes.pod.name': pod, 'io.kubernetes.pod.namespace': namespace, 'io.kubernetes.pod.uid': podUid(namespace, pod) },
    logPath: `/var/log/pods/${namespace}_${pod}_${podUid(namespace, pod)}/${container}/0.log`,
  };
}

/**
 * The entries of a checkpoint archive in the order its runtime writes them. Both runtimes put the
 * CRIU images (with the big memory image) before spec.dump, so the reader has to get past them.
 */
export function sampleArchiveEntries(options: SampleArchiveOptions): TarEntrySpec[] {
  const timestampText = typeof options.timestamp === 'string' ? options.timestamp : formatArchiveTimestamp(options.timestamp);
  const seed = `${options.namespace}/${options.pod}/${options.container}/${timestampText}`;
  const rootfsDiff = encodeTar([
    { name: 'tmp/', type: 'directory' },
    { name: 'tmp/session.cache', body: fillerBytes(700, `${seed}/cache`) },
  ]);
  const config: TarEntrySpec = { name: 'config.dump', body: dumpText(options.configDumpOverride ?? sampleConfigDump(options, timestampText)) };
  const spec: TarEntrySpec = { name: 'spec.dump', body: dumpText(options.specDumpOverride ?? sampleSpecDump(options)) };
  const stats: TarEntrySpec = { name: 'stats-dump', body: fillerBytes(96, `${seed}/stats`) };
  const log: TarEntrySpec = { name: 'dump.log', body: dumpLog(seed) };
  const layout = options.layout ?? (options.runtime === 'cri-o' ? 'cri-o' : options.runtime === 'containerd' ? 'containerd' : 'minimal');
  let entries: TarEntrySpec[];
  switch (layout) {
    case 'cri-o':
      entries = [stats, log, ...criuImages(options, seed), config, spec, { name: 'bind.mounts', body: '[]' }, { name: 'rootfs-diff.tar', body: rootfsDiff }];
      break;
    case 'containerd':
      entries = [
        ...criuImages(options, seed),
        { name: 'rootfs-diff.tar', body: rootfsDiff },
        { name: 'status', body: containerdStatus() },
        stats,
        log,
        { name: 'container.log', body: `${timestampText} stdout F listening on :8080\n` },
        spec,
        config,
        { name: 'status.dump', body: JSON.stringify(containerdStatusDump(options)) },
      ];
      break;
    case 'minimal':
      entries = [{ name: 'bind.mounts', body: '[]' }, ...criuImages(options, seed), config, { name: 'rootfs-diff.tar', body: rootfsDiff }, spec, stats];
      break;
  }
  const omit = new Set(options.omitEntries ?? []);
  return entries.filter((entry) => !omit.has(entry.name));
}

/** The kubelet-style file name for these options. */
export function sampleArchiveName(options: SampleArchiveOptions): string {
  if (options.fileName !== undefined) return options.fileName;
  const timestampText = typeof options.timestamp === 'string' ? options.timestamp : formatArchiveTimestamp(options.timestamp);
  return formatArchiveName(options.pod, options.namespace, options.container, timestampText);
}

/** Writes a realistic checkpoint archive into `dir`; returns its file name. */
export async function writeSampleArchive(dir: string, options: SampleArchiveOptions): Promise<string> {
  const fileName = sampleArchiveName(options);
  const path = join(dir, fileName);
  await writeTarFile(path, sampleArchiveEntries(options), {
    format: options.format ?? 'ustar',
    mtime: options.mtime,
    ...(options.compression === undefined ? {} : { compression: options.compression }),
  });
  if (options.mtime !== undefined) await fs.utimes(path, options.mtime, options.mtime);
  return fileName;
}

export interface DemoDirectory {
  readonly archives: readonly string[];
  readonly pins: readonly string[];
  readonly unidentified: readonly string[];
  readonly foreign: readonly string[];
  /** Identified archives written gzip-compressed. */
  readonly compressed: readonly string[];
  /** Identified archives without checkpoint/inventory.img: they cannot be restored. */
  readonly unrestorable: readonly string[];
}

const HOUR_MS = 3_600_000;

/**
 * The demo checkpoint directory: several namespaces with `-` in namespace and container names, archives
 * laid out as CRI-O and as containerd write them, one container over the default limit of 10 (13
 * archives, one of them pinned), one gzip-compressed archive, one archive without
 * checkpoint/inventory.img (not restorable), one archive without a Kubernetes identity and one foreign
 * file. About 10 MB in total.
 */
export async function writeDemoCheckpointDirectory(dir: string, options: { readonly now?: Date } = {}): Promise<DemoDirectory> {
  const now = (options.now ?? new Date()).getTime();
  await fs.mkdir(dir, { recursive: true });
  const archives: string[] = [];
  const write = async (sample: SampleArchiveOptions): Promise<string> => {
    const at = typeof sample.timestamp === 'string' ? undefined : sample.timestamp;
    const fileName = await writeSampleArchive(dir, { mtime: at, ...sample });
    archives.push(fileName);
    return fileName;
  };

  const cart: string[] = [];
  for (let index = 0; index < 13; index += 1) {
    cart.push(
      await write({
        namespace: 'shop-prod',
        pod: 'cart-7d9f8b6c4-x2k4p',
        container: 'cart-api',
        timestamp: new Date(now - (13 - index) * 2 * HOUR_MS),
        runtime: 'cri-o',
        payloadBytes: 320 * 1024 + index * 4096,
      }),
    );
  }
  const pinnedArchive = cart[1] ?? '';
  const pin = pinFileNameOf(pinnedArchive);
  await fs.writeFile(join(dir, pin), 'kept for the incident review\n');

  await write({ namespace: 'shop-prod', pod: 'cart-7d9f8b6c4-x2k4p', container: 'envoy-proxy', timestamp: new Date(now - 5 * HOUR_MS), runtime: 'cri-o', payloadBytes: 180 * 1024 });
  for (let index = 0; index < 3; index += 1) {
    await write({ namespace: 'payments', pod: 'ledger-0', container: 'ledger', timestamp: new Date(now - (3 - index) * 24 * HOUR_MS), runtime: 'containerd', payloadBytes: 900 * 1024 });
  }
  await write({ namespace: 'monitoring-system', pod: 'metrics-agent-5b7d9', container: 'config-reloader', timestamp: new Date(now - 40 * 24 * HOUR_MS), runtime: 'criu', payloadBytes: 64 * 1024 });
  await write({ namespace: 'batch', pod: 'nightly-report-28461520-q7w2z', container: 'report', timestamp: new Date(now - 6 * HOUR_MS), runtime: 'cri-o', payloadBytes: 512 * 1024 });

  // A CRIU dump cut short: no inventory image, so no restore can start from it.
  const unrestorable = await write({
    namespace: 'batch',
    pod: 'nightly-report-28461520-q7w2z',
    container: 'report',
    timestamp: new Date(now - 30 * HOUR_MS),
    runtime: 'cri-o',
    payloadBytes: 256 * 1024,
    omitEntries: ['checkpoint/inventory.img'],
  });
  // Compressed after the fact, as the upstream operator accepts; the name stays the kubelet's.
  const compressed = await write({
    namespace: 'data-science',
    pod: 'notebook-0',
    container: 'jupyter',
    timestamp: new Date(now - 3 * HOUR_MS),
    runtime: 'containerd',
    // Zeroed pages, as a fresh heap has many: 24 MiB of memory in an archive of a few kilobytes.
    payloadBytes: 24 * 1024 * 1024,
    sparsePayload: true,
    compression: 'gzip',
  });

  const unidentified = await write({ namespace: 'default', pod: 'legacy-app', container: 'app', timestamp: new Date(now - 12 * HOUR_MS), runtime: 'podman', payloadBytes: 48 * 1024 });

  const foreign = 'notes.txt';
  await fs.writeFile(join(dir, foreign), 'Checkpoints taken during the cart latency investigation.\n');
  return { archives, pins: [pin], unidentified: [unidentified], foreign: [foreign], compressed: [compressed], unrestorable: [unrestorable] };
}

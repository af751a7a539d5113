import { Gauge, type Registry } from 'prom-client';
import type { ExporterView } from './exporter-view.js';

/** Build identity, policy reload status and the health of the Kubernetes view. */
export function registerHealthCollector(registry: Registry, view: ExporterView): void {
  const buildInfo = new Gauge({
    name: 'checkpoint_exporter_build_info',
    help: 'Build information of the running checkpoint-exporter; value is always 1.',
    labelNames: ['version'],
    registers: [registry],
  });
  buildInfo.set({ version: view.version }, 1);

  const reloadSuccessful: Gauge = new Gauge({
    name: 'checkpoint_config_last_reload_successful',
    help: '1 when the last load of the policy file succeeded (also when no file is configured).',
    registers: [registry],
    collect: () => {
      reloadSuccessful.set(view.configStatus().lastReloadSuccessful ? 1 : 0);
    },
  });
  const reloadTimestamp: Gauge = new Gauge({
    name: 'checkpoint_config_last_reload_success_timestamp_seconds',
    help: 'Time of the last successful policy load, in seconds since the epoch.',
    registers: [registry],
    collect: () => {
      const ms = view.configStatus().lastSuccessMs;
      if (ms === undefined) reloadTimestamp.remove();
      else reloadTimestamp.set(ms / 1000);
    },
  });
  const apiUp: Gauge = new Gauge({
    name: 'checkpoint_kubernetes_api_up',
    help: '1 while the Kubernetes API view is healthy; 0 when it is not or none is configured (orphan cleanup is then off).',
    registers: [registry],
    collect: () => {
      apiUp.set(view.kubernetesApiUp() ? 1 : 0);
    },
  });
}

import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { KubeObject } from './kube-object.js';

interface ValidatingModel {
  validate(): void;
}

type ModelConstructor = new (data: never) => ValidatingModel;

/**
 * The model class for every apiVersion/kind this repository ships. An object of any other kind fails
 * validation instead of passing unchecked; custom resources of our own CRD are checked against its schema.
 */
const MODELS: ReadonlyMap<string, ModelConstructor> = new Map<string, ModelConstructor>([
  ['v1/Namespace', Namespace],
  ['v1/ServiceAccount', ServiceAccount],
  ['v1/Service', Service],
  ['v1/ConfigMap', ConfigMap],
  ['v1/Secret', Secret],
  ['apps/v1/DaemonSet', DaemonSet],
  ['rbac.authorization.k8s.io/v1/ClusterRole', ClusterRole],
  ['rbac.authorization.k8s.io/v1/ClusterRoleBinding', ClusterRoleBinding],
  ['apiextensions.k8s.io/v1/CustomResourceDefinition', CustomResourceDefinition],
  ['monitoring.coreos.com/v1/ServiceMonitor', ServiceMonitor],
  ['monitoring.coreos.com/v1/PrometheusRule', PrometheusRule],
  ['monitoring.coreos.com/v1/PodMonitor', PodMonitor],
  ['networking.k8s.io/v1/NetworkPolicy', NetworkPolicy],
]);

/**
 * Fields newer than the models this repository can use on Node.js 20 (the model releases that know
 * them need Node.js 22), checked here as the Prometheus Operator's CRD schema does.
 */
function checkNewerFields(object: KubeObject): void {
  if (object.apiVersion === 'monitoring.coreos.com/v1' && object.kind === 'ServiceMonitor') {
    // Prometheus Operator >= 0.79: ServiceMonitorSpec.serviceDiscoveryRole, enum Endpoints | EndpointSlice.
    const role = (object['spec'] as { serviceDiscoveryRole?: unknown } | undefined)?.serviceDiscoveryRole;
    if (role !== undefined && role !== 'Endpoints' && role !== 'EndpointSlice') {
      throw new Error(`spec.serviceDiscoveryRole must be Endpoints or EndpointSlice, got ${JSON.stringify(role)}`);
    }
  }
}

export function hasModel(object: KubeObject): boolean {
  return MODELS.has(`${object.apiVersion}/${object.kind}`);
}

/** Throws the model's validation error, prefixed with the object's identity. */
export function validateWithModel(object: KubeObject): void {
  const Model = MODELS.get(`${object.apiVersion}/${object.kind}`);
  if (Model === undefined) throw new Error(`no model for ${object.apiVersion} ${object.kind}`);
  try {
    new Model(object as never).validate();
    checkNewerFields(object);
  } catch (error) {
    throw new Error(`${object.kind}/${object.metadata.name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

// Certificates for TLS between clients, nodes and peers: a private CA and the certificates it
// signs, as PEM files (docs/security.md, "TLS").

export {
  type AddedNodeCert,
  type AddNodeCertOptions,
  addNodeCert,
  type CertAndKey,
  type ClusterCerts,
  type ClusterCertsOptions,
  caFile,
  caKeyFile,
  createClusterCerts,
  type NodeCertFiles,
  type NodeCertSpec,
  nodeCertPaths,
} from './cluster-certs.js';
export { hostProblem, loopbackHosts, normalizeHost } from './hosts.js';
export {
  caDays,
  clientNameProblem,
  daysProblem,
  defaultCertDays,
  defaultClientName,
  nodeIdProblem,
} from './names.js';
export { CertsError } from './x509.js';

// The config keys only super callers may read, as docs/API.md lists them ("Who may call"), written
// here apart from src/auth so that the tests check the code against the contract.
export const SECRET_CONFIG_PREFIXES = [
  'swarm_manager_ip',
  'super_apps',
  'dnsmasq_servers',
  'calico_default_rule',
  'calico_network',
  'dnsmasq_addresses',
  'ssl',
  'vips',
  'tinydns_fqdns',
  'bootstrap_node_ip',
  'dns_port',
  'vip',
  'etcd_cluster_token',
  'system_volumes',
  'rsyncd_secrets',
  'dns_ip',
  'node_network',
];

export const isSecretConfigKey = (key: string): boolean => SECRET_CONFIG_PREFIXES.some((p) => key.startsWith(p));

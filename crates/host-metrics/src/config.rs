//! What to report: groups, device/interface/mount-point filters, refresh interval.
//! Built from code or from `TELEMETRY_HOST_METRICS*` environment variables.

use std::time::Duration;

use telemetry::ConfigError;

/// A group of host metrics that can be switched on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// `system.cpu.*`.
    Cpu,
    /// `system.memory.*`.
    Memory,
    /// `system.paging.*`.
    Paging,
    /// `system.disk.*`.
    Disk,
    /// `system.filesystem.*`.
    Filesystem,
    /// `system.network.*`.
    Network,
    /// `process.*` for this process, and `system.uptime`.
    Process,
}

impl Group {
    /// Every group.
    pub const ALL: [Group; 7] = [
        Group::Cpu,
        Group::Memory,
        Group::Paging,
        Group::Disk,
        Group::Filesystem,
        Group::Network,
        Group::Process,
    ];

    /// The group's name in `TELEMETRY_HOST_METRICS_GROUPS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Cpu => "cpu",
            Group::Memory => "memory",
            Group::Paging => "paging",
            Group::Disk => "disk",
            Group::Filesystem => "filesystem",
            Group::Network => "network",
            Group::Process => "process",
        }
    }
}

/// Name filter: a name passes when no exclude pattern matches it and the include list is
/// empty or one of its patterns matches. A pattern ending in `*` matches by prefix;
/// otherwise it must equal the name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Patterns a name must match (any), when non-empty.
    pub include: Vec<String>,
    /// Patterns a name must not match.
    pub exclude: Vec<String>,
}

impl Filter {
    /// A filter excluding `patterns`.
    pub fn excluding(patterns: &[&str]) -> Self {
        Self {
            include: Vec::new(),
            exclude: patterns.iter().map(|p| p.to_string()).collect(),
        }
    }

    /// Whether `name` passes.
    pub fn allows(&self, name: &str) -> bool {
        let matches = |pattern: &String| match pattern.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == pattern,
        };
        (self.include.is_empty() || self.include.iter().any(matches))
            && !self.exclude.iter().any(matches)
    }
}

/// Filesystem types that are not storage: never reported by default.
pub const PSEUDO_FILESYSTEMS: &[&str] = &[
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "devpts",
    "devtmpfs",
    "securityfs",
    "pstore",
    "bpf",
    "tracefs",
    "debugfs",
    "mqueue",
    "hugetlbfs",
    "fusectl",
    "configfs",
    "autofs",
    "binfmt_misc",
    "nsfs",
    "rpc_pipefs",
    "selinuxfs",
    "efivarfs",
    "ramfs",
    "squashfs",
    "nfsd",
    "fuse.lxcfs",
    "fuse.gvfsd-fuse",
    "tmpfs",
];

/// Interfaces of container runtimes, orchestrators and local VMs, not reported by default
/// (with loopback): one per container or pod (`veth*`, `lxc*`, `cali*`) or a bridge or
/// tunnel carrying their traffic, which the host's own interfaces carry again. On a busy
/// Docker or Kubernetes host they outnumber the real interfaces many times over, and they
/// come and go with every container.
pub const CONTAINER_INTERFACES: &[&str] = &[
    "veth*",    // one end of each container's pair (Docker, Podman, most CNI plugins)
    "docker*",  // Docker's default bridge
    "br-*",     // Docker's user-defined networks
    "podman*",  // Podman's bridge
    "cni*",     // CNI bridge plugin, cni-podman*
    "cali*",    // Calico, one per pod
    "tunl*",    // Calico IP-in-IP
    "vxlan*",   // VXLAN overlays (vxlan.calico)
    "flannel*", // Flannel
    "cilium_*", // Cilium's host-side devices
    "lxc*",     // Cilium per-pod, LXC
    "weave*",   // Weave Net
    "kube-*",   // kube-proxy IPVS, kube-router
    "virbr*",   // libvirt's NAT bridge for local VMs
];

/// Every variable [`HostMetricsConfig::apply_env`] reads.
pub const VARIABLES: &[&str] = &[
    "TELEMETRY_HOST_METRICS",
    "TELEMETRY_HOST_METRICS_GROUPS",
    "TELEMETRY_HOST_METRICS_DEVICES",
    "TELEMETRY_HOST_METRICS_EXCLUDE_DEVICES",
    "TELEMETRY_HOST_METRICS_INTERFACES",
    "TELEMETRY_HOST_METRICS_EXCLUDE_INTERFACES",
    "TELEMETRY_HOST_METRICS_MOUNTPOINTS",
    "TELEMETRY_HOST_METRICS_EXCLUDE_MOUNTPOINTS",
    "TELEMETRY_HOST_METRICS_MIN_INTERVAL",
];

/// The host-metrics configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct HostMetricsConfig {
    /// Whether anything is reported.
    pub enabled: bool,
    /// The groups reported.
    pub groups: Vec<Group>,
    /// Block devices for `system.disk.*` (defaults skip loop and ram devices).
    pub devices: Filter,
    /// Interfaces for `system.network.*` (defaults skip loopback and
    /// [`CONTAINER_INTERFACES`]).
    pub interfaces: Filter,
    /// Mount points for `system.filesystem.*` (defaults skip container-runtime internals).
    pub mountpoints: Filter,
    /// Filesystem types for `system.filesystem.*` (defaults skip [`PSEUDO_FILESYSTEMS`]).
    pub filesystem_types: Filter,
    /// Collections closer together than this (an OTLP export and a scrape) share one
    /// refresh of the sources; never less than
    /// [`MIN_REFRESH_INTERVAL`](crate::MIN_REFRESH_INTERVAL).
    pub min_interval: Duration,
}

impl Default for HostMetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            groups: Group::ALL.to_vec(),
            devices: Filter::excluding(&["loop*", "ram*", "zram*", "sr*", "fd*"]),
            interfaces: Filter::excluding(&[&["lo"], CONTAINER_INTERFACES].concat()),
            mountpoints: Filter::excluding(&[
                "/var/lib/docker/*",
                "/var/lib/containers/*",
                "/run/containerd/*",
                "/run/docker/*",
                "/snap/*",
                "/proc/*",
                "/sys/*",
                "/dev/*",
            ]),
            filesystem_types: Filter::excluding(PSEUDO_FILESYSTEMS),
            min_interval: Duration::from_secs(1),
        }
    }
}

impl HostMetricsConfig {
    /// Whether `group` is reported.
    pub fn reports(&self, group: Group) -> bool {
        self.enabled && self.groups.contains(&group)
    }

    /// Overrides this configuration with `TELEMETRY_HOST_METRICS*` variables read through
    /// `lookup`:
    ///
    /// | variable | meaning |
    /// |---|---|
    /// | `TELEMETRY_HOST_METRICS` | `true` / `false` |
    /// | `TELEMETRY_HOST_METRICS_GROUPS` | comma list of cpu, memory, paging, disk, filesystem, network, process |
    /// | `TELEMETRY_HOST_METRICS_DEVICES`, `..._EXCLUDE_DEVICES` | device patterns (`sd*`) |
    /// | `TELEMETRY_HOST_METRICS_INTERFACES`, `..._EXCLUDE_INTERFACES` | interface patterns |
    /// | `TELEMETRY_HOST_METRICS_MOUNTPOINTS`, `..._EXCLUDE_MOUNTPOINTS` | mount-point patterns |
    /// | `TELEMETRY_HOST_METRICS_MIN_INTERVAL` | ms between refreshes |
    ///
    /// An `..._EXCLUDE_...` variable replaces the default exclusions.
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(v) = var("TELEMETRY_HOST_METRICS") {
            self.enabled = match v.trim().to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(invalid(
                        "TELEMETRY_HOST_METRICS",
                        &v,
                        "expected true or false",
                    ))
                }
            };
        }
        if let Some(v) = var("TELEMETRY_HOST_METRICS_GROUPS") {
            self.groups = v
                .split(',')
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(|g| {
                    Group::ALL
                        .into_iter()
                        .find(|known| known.as_str() == g)
                        .ok_or_else(|| {
                            invalid(
                            "TELEMETRY_HOST_METRICS_GROUPS",
                            g,
                            "expected cpu, memory, paging, disk, filesystem, network or process",
                        )
                        })
                })
                .collect::<Result<_, _>>()?;
        }
        let lists: [(&str, &str, &mut Filter); 3] = [
            ("DEVICES", "EXCLUDE_DEVICES", &mut self.devices),
            ("INTERFACES", "EXCLUDE_INTERFACES", &mut self.interfaces),
            ("MOUNTPOINTS", "EXCLUDE_MOUNTPOINTS", &mut self.mountpoints),
        ];
        for (include, exclude, filter) in lists {
            if let Some(v) = var(&format!("TELEMETRY_HOST_METRICS_{include}")) {
                filter.include = patterns(&format!("TELEMETRY_HOST_METRICS_{include}"), &v)?;
            }
            if let Some(v) = var(&format!("TELEMETRY_HOST_METRICS_{exclude}")) {
                filter.exclude = patterns(&format!("TELEMETRY_HOST_METRICS_{exclude}"), &v)?;
            }
        }
        if let Some(v) = var("TELEMETRY_HOST_METRICS_MIN_INTERVAL") {
            self.min_interval =
                v.trim()
                    .parse::<u64>()
                    .map(Duration::from_millis)
                    .map_err(|_| {
                        invalid(
                            "TELEMETRY_HOST_METRICS_MIN_INTERVAL",
                            &v,
                            "expected whole milliseconds",
                        )
                    })?;
        }
        Ok(())
    }
}

impl HostMetricsConfig {
    /// [`apply_env`](Self::apply_env) with the process environment. A value that is not
    /// UTF-8 is an error naming its variable, not ignored.
    pub fn apply_process_env(&mut self) -> Result<(), ConfigError> {
        for variable in VARIABLES {
            if let Some(value) = std::env::var_os(variable) {
                if value.to_str().is_none() {
                    return Err(invalid(
                        variable,
                        &value.to_string_lossy(),
                        "not valid UTF-8",
                    ));
                }
            }
        }
        self.apply_env(|name| std::env::var(name).ok())
    }
}

fn invalid(variable: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        variable: variable.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

fn patterns(variable: &str, value: &str) -> Result<Vec<String>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            // Only a trailing `*` is allowed (no byte slicing: the value may be any UTF-8).
            let body = p.strip_suffix('*').unwrap_or(p);
            if p.chars().any(|c| c.is_control()) || body.contains('*') {
                Err(invalid(
                    variable,
                    p,
                    "a pattern is a name, or a prefix followed by a single trailing *",
                ))
            } else {
                Ok(p.to_owned())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_env() {
        let config = HostMetricsConfig::default();
        assert!(!config.interfaces.allows("lo"));
        assert!(config.interfaces.allows("eth0"));
        for container in [
            "veth1a2b3c",
            "docker0",
            "br-5f1e2d",
            "cali12ab",
            "flannel.1",
        ] {
            assert!(!config.interfaces.allows(container), "{container}");
        }
        for host in ["enp0s31f6", "wlp2s0", "ens5", "bond0", "br0", "wg0"] {
            assert!(config.interfaces.allows(host), "{host}");
        }
        assert!(!config.devices.allows("loop3"));
        assert!(!config.filesystem_types.allows("proc"));
        assert!(!config
            .mountpoints
            .allows("/var/lib/docker/overlay2/abc/merged"));

        let mut config = HostMetricsConfig::default();
        let env = |name: &str| match name {
            "TELEMETRY_HOST_METRICS_GROUPS" => Some("cpu, process".to_owned()),
            "TELEMETRY_HOST_METRICS_INTERFACES" => Some("eth*".to_owned()),
            "TELEMETRY_HOST_METRICS_EXCLUDE_INTERFACES" => Some("eth9, lo".to_owned()),
            "TELEMETRY_HOST_METRICS_MIN_INTERVAL" => Some("250".to_owned()),
            _ => None,
        };
        config.apply_env(env).unwrap();
        assert!(config.reports(Group::Cpu) && !config.reports(Group::Disk));
        assert!(config.interfaces.allows("eth0") && !config.interfaces.allows("eth9"));
        assert!(config.interfaces.allows("eth0") && !config.interfaces.allows("wlan0"));
        assert!(config.interfaces.allows("eth1") && !config.interfaces.allows("lo"));
        // The variable replaced the default exclusions: container interfaces are back.
        config.interfaces.include.clear();
        assert!(config.interfaces.allows("docker0") && config.interfaces.allows("veth9"));
        assert_eq!(config.min_interval, Duration::from_millis(250));

        for (variable, value) in [
            ("TELEMETRY_HOST_METRICS", "maybe"),
            ("TELEMETRY_HOST_METRICS_GROUPS", "cpu,gpu"),
            ("TELEMETRY_HOST_METRICS_DEVICES", "s*d"),
            ("TELEMETRY_HOST_METRICS_MIN_INTERVAL", "1s"),
            ("TELEMETRY_HOST_METRICS_EXCLUDE_MOUNTPOINTS", "/mnt/*café"),
            ("TELEMETRY_HOST_METRICS_INTERFACES", "é*é"),
        ] {
            let error = HostMetricsConfig::default()
                .apply_env(|n| (n == variable).then(|| value.to_owned()))
                .unwrap_err()
                .to_string();
            assert!(error.contains(variable), "{error}");
        }
    }

    /// `VARIABLES` is exactly what `apply_env` reads.
    #[test]
    fn variables_lists_every_variable_read() {
        let read = std::sync::Mutex::new(Vec::new());
        HostMetricsConfig::default()
            .apply_env(|name| {
                read.lock().unwrap().push(name.to_owned());
                None
            })
            .unwrap();
        let mut read = read.into_inner().unwrap();
        read.sort();
        let mut listed: Vec<String> = VARIABLES.iter().map(|v| v.to_string()).collect();
        listed.sort();
        assert_eq!(read, listed);
    }

    /// Patterns are UTF-8, not bytes: a name ending in a multi-byte character (which once
    /// panicked on a byte slice inside the character) is a valid pattern, exact or prefix.
    #[test]
    fn patterns_ending_in_multibyte_characters_are_accepted() {
        let mut config = HostMetricsConfig::default();
        let env = |name: &str| match name {
            "TELEMETRY_HOST_METRICS_EXCLUDE_MOUNTPOINTS" => Some("/mnt/café, /srv/ü*".to_owned()),
            "TELEMETRY_HOST_METRICS_DEVICES" => Some("é".to_owned()),
            _ => None,
        };
        config.apply_env(env).unwrap();
        assert!(!config.mountpoints.allows("/mnt/café"));
        assert!(config.mountpoints.allows("/mnt/cafés"));
        assert!(!config.mountpoints.allows("/srv/über"));
        assert!(config.mountpoints.allows("/srv/u"));
        assert!(config.devices.allows("é") && !config.devices.allows("e"));
    }
}

//! Deployment settings kept beside a pipeline, so one file runs unchanged on
//! a laptop and in production:
//!
//! ```yaml
//! brokers: kafka-1:9092,kafka-2:9092
//! listen: 0.0.0.0:5000
//! data_dir: /var/lib/pipec
//! metastore: thrift://hms:9083  # register tables and partitions there
//! kafka:                      # librdkafka settings
//!   security.protocol: SASL_SSL
//! env:                        # values for ${NAME} in the pipeline
//!   STORAGE_ROOT: s3://events-bucket/pipec
//! ```

use pipec_compiler::Environment;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub brokers: Option<String>,
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub metastore: Option<String>,
    #[serde(default)]
    pub kafka: BTreeMap<String, String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl Profile {
    pub fn load(path: &Path) -> Result<Profile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read profile `{}`: {e}", path.display()))?;
        let profile: Profile = serde_yaml_ng::from_str(&text)
            .map_err(|e| format!("profile `{}` is not valid: {e}", path.display()))?;
        if let Some(uri) = &profile.metastore {
            pipec_runtime::metastore::parse_uri(uri)
                .map_err(|e| format!("profile `{}`: {e}", path.display()))?;
        }
        Ok(profile)
    }
}

/// `${NAME}` looks in the profile's `env` first, then the process environment.
pub struct ProfileEnvironment<'p> {
    pub profile: &'p Profile,
}

impl Environment for ProfileEnvironment<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.profile
            .env
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.profile.env.keys().cloned().collect();
        names.extend(std::env::vars_os().filter_map(|(name, _)| name.into_string().ok()));
        names
    }
}

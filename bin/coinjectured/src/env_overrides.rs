//! Environment overrides of the node's configuration, without a hand-kept list of keys.
//!
//! The node owns the `COINJECTURE_` namespace: every variable named `COINJECTURE_<PATH>` is a
//! config override, where `<PATH>` is a key's path in the YAML file, upper-cased, with `_` between
//! the segments (`api.limits.idle_timeout` is `COINJECTURE_API_LIMITS_IDLE_TIMEOUT`). The only
//! exceptions are the names in [`NOT_THE_NODES`], which belong to the clients, tools and tests.
//! Any other `COINJECTURE_*` variable (a typo, a key that does not exist, a whole section) is an
//! error that names it.
//!
//! How: [envy](https://docs.rs/envy) collects the prefixed variables (prefix stripped, names
//! lower-cased); each name is resolved against the config *types* (their serde field lists,
//! discovered by [`kind_at`]), its value converted to the key's YAML kind and merged into the
//! file's YAML tree; then the tree is deserialized once, into typed values. A new config key is
//! one field in `config.rs`: it is overridable at once.
//!
//! Values: text as is; numbers and booleans parsed (`true`/`false`); a list is comma-separated
//! (items trimmed, empty items dropped, so an empty value is an empty list). An override creates
//! a section that the file lacks (`COINJECTURE_CRYPTO_CORE_ENDPOINT` adds `crypto_core:`).

use std::cell::Cell;
use std::collections::BTreeMap;

use eyre::{bail, eyre};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde_yaml::Value;

/// The prefix of every override.
pub(crate) const PREFIX: &str = "COINJECTURE_";

/// `COINJECTURE_*` variables that are not config overrides: they belong to the command line
/// (`--log-format`, `--log-level`), the Go and Python clients, the load generator, the deployment
/// scripts and the test suites, and may be set where a node starts. `every_coinjecture_variable_in_
/// the_repository_is_a_key_or_listed` keeps this list complete.
pub(crate) const NOT_THE_NODES: &[&str] = &[
    // `coinjectured --log-format/--log-level` (clap); a node logs as `logger:` says.
    "COINJECTURE_LOG_FORMAT",
    "COINJECTURE_LOG_LEVEL",
    // Clients and their tests: a crypto-core and a node to talk to, the devnet faucet's key.
    "COINJECTURE_CRYPTO_CORE",
    "COINJECTURE_NODE",
    "COINJECTURE_FAUCET_KEY",
    // `coinjectured wallet`: `--devnet-dir` (where `--faucet` finds the devnet's faucet key) and
    // `--node` (the REST API to talk to).
    "COINJECTURE_DEVNET_DIR",
    "COINJECTURE_NODE_URL",
    // Read at build time by bin/coinjectured/build.rs (`coinjecture_build_info{commit}`).
    "COINJECTURE_GIT_COMMIT",
    // Test suites and scripts.
    "COINJECTURE_ALLOW_SKIP",
    "COINJECTURE_GOLDEN_DIR",
    "COINJECTURE_SOAK_SECS",
    "COINJECTURE_E2E_KEEP",
    "COINJECTURE_GO_BIN",
    "COINJECTURE_VALIDATOR_ARGS",
    "COINJECTURE_LEDGER_CRASH_WORKER_DB",
    "COINJECTURE_LEDGER_CRASH_BATCH_WORKER_DB",
    "COINJECTURE_LEDGER_DISK_FULL_WORKER_DB",
    // services/consensus/tests/it/sealed_counts.rs: set in the child process a counting test
    // re-runs itself in, alone.
    "COINJECTURE_COUNTING_ALONE",
    // Deployment (compose, k8s scripts).
    "COINJECTURE_IMAGE",
    "COINJECTURE_NETWORK_DIR",
];

/// What a config key holds, as far as an environment value is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    Integer,
    Float,
    Text,
    List,
    /// A section, with its keys.
    Section(&'static [&'static str]),
}

/// Merges the `COINJECTURE_*` variables among `vars` into `tree` (the YAML of a `T`). Returns, for
/// each override, the key's dotted path and the variable's name (for error messages).
pub(crate) fn merge<T: DeserializeOwned>(
    tree: &mut Value,
    vars: impl IntoIterator<Item = (String, String)>,
) -> eyre::Result<Vec<(String, String)>> {
    let ours = vars.into_iter().filter(|(k, _)| k.starts_with(PREFIX) && !NOT_THE_NODES.contains(&k.as_str()));
    let overrides: BTreeMap<String, String> = envy::prefixed(PREFIX)
        .from_iter(ours)
        .map_err(|e| eyre!("environment override ({PREFIX}<SECTION>_<KEY>): {e}"))?;
    let mut applied = Vec::new();
    for (name, value) in overrides {
        let var = format!("{PREFIX}{}", name.to_ascii_uppercase());
        let (path, kind) = resolve::<T>(&name).map_err(|e| eyre!("{var}: {e}"))?;
        let converted = convert(kind, &value).map_err(|e| eyre!("{var}: {e}"))?;
        set(tree, &path, converted).map_err(|e| eyre!("{var}: {e}"))?;
        applied.push((path.join("."), var));
    }
    Ok(applied)
}

/// The key a lower-cased variable name (prefix stripped) names, and its kind.
fn resolve<T: DeserializeOwned>(name: &str) -> eyre::Result<(Vec<&'static str>, Kind)> {
    fn walk<T: DeserializeOwned>(
        rest: &str,
        path: &[&'static str],
        fields: &'static [&'static str],
        found: &mut Vec<(Vec<&'static str>, Kind)>,
    ) {
        for &field in fields {
            let kind = || {
                let mut p = path.to_vec();
                p.push(field);
                kind_at::<T>(&p).map(|k| (p, k))
            };
            if rest == field {
                if let Some(hit) = kind() {
                    found.push(hit);
                }
            } else if let Some(tail) = rest.strip_prefix(field).and_then(|t| t.strip_prefix('_'))
                && let Some((p, Kind::Section(inner))) = kind()
            {
                walk::<T>(tail, &p, inner, found);
            }
        }
    }
    let Some(Kind::Section(root)) = kind_at::<T>(&[]) else {
        bail!("the configuration is not a set of sections");
    };
    let mut found = Vec::new();
    walk::<T>(name, &[], root, &mut found);
    match found.as_slice() {
        [] => bail!(
            "no such configuration key (a {PREFIX}* variable is a key's path, e.g. {PREFIX}API_PORT for api.port; \
             the names the node leaves alone are listed in the README, \"Configuration\")"
        ),
        [(path, Kind::Section(_))] => {
            bail!(
                "{} is a section: set its keys one by one ({PREFIX}{}_<KEY>)",
                path.join("."),
                name.to_ascii_uppercase()
            )
        }
        [(path, kind)] => Ok((path.clone(), *kind)),
        many => bail!("ambiguous: names {}", many.iter().map(|(p, _)| p.join(".")).collect::<Vec<_>>().join(" and ")),
    }
}

/// An environment value as the YAML value of a key of `kind`.
fn convert(kind: Kind, value: &str) -> eyre::Result<Value> {
    Ok(match kind {
        Kind::Text => Value::String(value.to_string()),
        Kind::Bool => Value::Bool(value.trim().parse().map_err(|_| eyre!("{value:?} is not true or false"))?),
        Kind::Integer => {
            let v = value.trim();
            if let Ok(n) = v.parse::<u64>() {
                Value::Number(n.into())
            } else {
                Value::Number(v.parse::<i64>().map_err(|_| eyre!("{value:?} is not a whole number"))?.into())
            }
        }
        Kind::Float => {
            Value::Number(value.trim().parse::<f64>().map_err(|_| eyre!("{value:?} is not a number"))?.into())
        }
        Kind::List => Value::Sequence(
            value.split(',').map(str::trim).filter(|x| !x.is_empty()).map(|x| Value::String(x.into())).collect(),
        ),
        Kind::Section(_) => bail!("a section cannot be set from one variable"),
    })
}

/// Sets `path` in `tree`, creating the sections on the way.
fn set(tree: &mut Value, path: &[&str], value: Value) -> eyre::Result<()> {
    let Some((last, sections)) = path.split_last() else { bail!("empty key") };
    let mut node = tree;
    for (depth, section) in sections.iter().enumerate() {
        if node.is_null() {
            *node = Value::Mapping(Default::default());
        }
        let Value::Mapping(map) = node else {
            bail!("{} is not a section in the file", path[..depth].join("."));
        };
        node = map.entry(Value::String((*section).into())).or_insert(Value::Null);
    }
    if node.is_null() {
        *node = Value::Mapping(Default::default());
    }
    let Value::Mapping(map) = node else {
        bail!("{} is not a section in the file", sections.join("."));
    };
    map.insert(Value::String((*last).into()), value);
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Schema discovery: what `T`'s serde impl asks for at a path.
// ------------------------------------------------------------------------------------------------

/// The kind of the key at `path` of `T` (`[]`: `T` itself), or `None` when there is no such key.
/// It drives `T::deserialize` with a deserializer that descends along `path` (answering each
/// struct's field request with the next segment) and records what the key's own deserializer asks
/// for; it then stops with an error, so no value is ever built.
pub(crate) fn kind_at<T: DeserializeOwned>(path: &[&'static str]) -> Option<Kind> {
    let found = Cell::new(None);
    let _ = T::deserialize(Probe { path, found: &found });
    found.get()
}

struct Probe<'a> {
    /// What is left of the path.
    path: &'a [&'static str],
    found: &'a Cell<Option<Kind>>,
}

#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("schema probe")
    }
}
impl std::error::Error for Stop {}
impl de::Error for Stop {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Stop
    }
}

impl Probe<'_> {
    fn leaf<V>(self, kind: Kind) -> Result<V, Stop> {
        if self.path.is_empty() {
            self.found.set(Some(kind));
        }
        Err(Stop)
    }
}

macro_rules! leaves {
    ($($method:ident => $kind:expr),* $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            self.leaf($kind)
        })*
    };
}

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = Stop;

    leaves! {
        deserialize_any => Kind::Text,
        deserialize_bool => Kind::Bool,
        deserialize_i8 => Kind::Integer,
        deserialize_i16 => Kind::Integer,
        deserialize_i32 => Kind::Integer,
        deserialize_i64 => Kind::Integer,
        deserialize_i128 => Kind::Integer,
        deserialize_u8 => Kind::Integer,
        deserialize_u16 => Kind::Integer,
        deserialize_u32 => Kind::Integer,
        deserialize_u64 => Kind::Integer,
        deserialize_u128 => Kind::Integer,
        deserialize_f32 => Kind::Float,
        deserialize_f64 => Kind::Float,
        deserialize_char => Kind::Text,
        deserialize_str => Kind::Text,
        deserialize_string => Kind::Text,
        deserialize_bytes => Kind::Text,
        deserialize_byte_buf => Kind::Text,
        deserialize_unit => Kind::Text,
        deserialize_seq => Kind::List,
        deserialize_map => Kind::Text,
        deserialize_identifier => Kind::Text,
        deserialize_ignored_any => Kind::Text,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Stop> {
        visitor.visit_some(self)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Stop> {
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, _: V) -> Result<V::Value, Stop> {
        self.leaf(Kind::Text)
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, Stop> {
        self.leaf(Kind::List)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(self, _: &'static str, _: usize, _: V) -> Result<V::Value, Stop> {
        self.leaf(Kind::List)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        self.leaf(Kind::Text)
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Stop> {
        let Some((&next, rest)) = self.path.split_first() else {
            self.found.set(Some(Kind::Section(fields)));
            return Err(Stop);
        };
        if !fields.contains(&next) {
            return Err(Stop);
        }
        visitor.visit_map(OneField { key: Some(next), value: Some(Probe { path: rest, found: self.found }) })
    }
}

/// A map with one entry: the next path segment, whose value is probed further.
struct OneField<'a> {
    key: Option<&'static str>,
    value: Option<Probe<'a>>,
}

impl<'de> MapAccess<'de> for OneField<'_> {
    type Error = Stop;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Stop> {
        match self.key.take() {
            Some(key) => seed.deserialize(IntoDeserializer::<Stop>::into_deserializer(key)).map(Some),
            None => Ok(None),
        }
    }
    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Stop> {
        match self.value.take() {
            Some(probe) => seed.deserialize(probe),
            None => Err(Stop),
        }
    }
}

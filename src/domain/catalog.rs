//! The catalog the platform admin keeps: GPU types, hardware specs, public
//! images, storage types and project purposes. Here are the forms as
//! submitted, the rules each field follows, and how a GPU type counts
//! against a project's GPU quota. Messages are translation keys.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ids::{GpuTypeId, HardwareSpecId};
use super::quota::{MILLI, parse_gb_as_mib, parse_milli};
use super::validation::FieldErrors;

/// Longest display name of a GPU type, storage type or purpose, and of a
/// hardware spec's name.
pub const NAME_MAX: usize = 64;
pub const IMAGE_NAME_MIN: usize = 2;
pub const IMAGE_NAME_MAX: usize = 128;
pub const TAG_MAX: usize = 128;
pub const GPU_MEMORY_MAX_GB: u64 = 4096;
/// Largest allowed count (GPUs, or GB of a shared GPU).
pub const COUNT_MAX: u64 = 4096;
pub const CPU_MAX_MILLI: u64 = 1024 * MILLI;
/// 16 TiB.
pub const RAM_MAX_MIB: u64 = 16 * 1024 * 1024;
/// The highest hourly price (of a GPU unit or a hardware spec).
pub const PRICE_MAX_MILLI: u64 = 100_000 * MILLI;
pub const STORAGE_MAX_GIB: u64 = 65536;
pub const DESCRIPTION_MAX: usize = 500;
pub const SERVICE_DESCRIPTION_MAX: usize = 200;
pub const COMMAND_MAX: usize = 2000;
/// Most lines in one multi-line field (node selector, versions, services).
pub const LINES_MAX: usize = 64;

/// The five kinds of catalog item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CatalogKind {
    GpuType,
    HardwareSpec,
    Image,
    StorageType,
    Purpose,
}

impl CatalogKind {
    pub const ALL: [CatalogKind; 5] = [
        CatalogKind::GpuType,
        CatalogKind::HardwareSpec,
        CatalogKind::Image,
        CatalogKind::StorageType,
        CatalogKind::Purpose,
    ];

    /// The stable code of the kind (the store's name index uses it).
    pub fn code(self) -> &'static str {
        match self {
            CatalogKind::GpuType => "gpu_type",
            CatalogKind::HardwareSpec => "hardware_spec",
            CatalogKind::Image => "image",
            CatalogKind::StorageType => "storage_type",
            CatalogKind::Purpose => "purpose",
        }
    }

    /// The kind's segment in the admin's catalog URLs.
    pub fn slug(self) -> &'static str {
        match self {
            CatalogKind::GpuType => "gpu-types",
            CatalogKind::HardwareSpec => "hardware-specs",
            CatalogKind::Image => "images",
            CatalogKind::StorageType => "storage-types",
            CatalogKind::Purpose => "purposes",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.slug() == slug)
    }
}

/// How containers share the GPUs of a GPU type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sharing {
    /// Whole GPUs, one container each: full isolation.
    #[default]
    Whole,
    /// Time-slicing (`nvidia.com/gpu.shared`): containers take turns on one
    /// GPU; no memory isolation.
    TimeSliced,
    /// Multi-Instance GPU: a hardware partition with its own memory and
    /// compute; each instance is one device.
    Mig,
    /// Memory slices enforced by HAMi (`nvidia.com/gpumem`): a memory limit
    /// per container, compute shared.
    MemorySliced,
}

impl Sharing {
    pub const ALL: [Sharing; 4] = [
        Sharing::Whole,
        Sharing::TimeSliced,
        Sharing::Mig,
        Sharing::MemorySliced,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Sharing::Whole => "whole",
            Sharing::TimeSliced => "time_sliced",
            Sharing::Mig => "mig",
            Sharing::MemorySliced => "memory_sliced",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Whether several containers share one GPU: the counts are then GB of
    /// GPU memory, and a container takes GB / memory per GPU of a GPU unit.
    pub fn is_shared(self) -> bool {
        matches!(self, Sharing::TimeSliced | Sharing::MemorySliced)
    }
}

/// What one step of a GPU type's count is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuSizing {
    pub sharing: Sharing,
    /// Memory of one GPU (of one MIG instance for MIG types), in GB.
    pub memory_gb: u32,
}

/// The GPU units, in thousandths, that `count` of a GPU type takes from a
/// quota: a whole GPU or a MIG instance is one unit each; a shared type's
/// count is GB, so it takes GB / memory per GPU (1 GB of an 8 GB P4 is 125),
/// rounded up so a share is never counted as less than it is.
pub fn gpu_units_milli(gpu_type: GpuSizing, count: u32) -> u64 {
    let count = u64::from(count);
    if gpu_type.sharing.is_shared() {
        let memory = u64::from(gpu_type.memory_gb.max(1));
        (count * MILLI).div_ceil(memory)
    } else {
        count * MILLI
    }
}

/// How the SSH service of an image logs in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SshLogin {
    #[default]
    Password,
    KeyPair,
}

impl SshLogin {
    pub const ALL: [SshLogin; 2] = [SshLogin::Password, SshLogin::KeyPair];

    pub fn code(self) -> &'static str {
        match self {
            SshLogin::Password => "password",
            SshLogin::KeyPair => "key_pair",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// A service an image provides (manual: SSH, Jupyter, JupyterLab,
/// TensorBoard, WebTerminal, Code Server and self-defined services).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ServiceKind {
    #[serde(rename = "ssh")]
    Ssh,
    #[serde(rename = "jupyterlab")]
    JupyterLab,
    #[serde(rename = "jupyter")]
    Jupyter,
    #[serde(rename = "tensorboard")]
    TensorBoard,
    #[serde(rename = "webterminal")]
    WebTerminal,
    #[serde(rename = "code-server")]
    CodeServer,
    #[serde(rename = "custom")]
    Custom,
}

impl ServiceKind {
    pub const ALL: [ServiceKind; 7] = [
        ServiceKind::Ssh,
        ServiceKind::JupyterLab,
        ServiceKind::Jupyter,
        ServiceKind::TensorBoard,
        ServiceKind::WebTerminal,
        ServiceKind::CodeServer,
        ServiceKind::Custom,
    ];

    /// The word used in the services field.
    pub fn code(self) -> &'static str {
        match self {
            ServiceKind::Ssh => "ssh",
            ServiceKind::JupyterLab => "jupyterlab",
            ServiceKind::Jupyter => "jupyter",
            ServiceKind::TensorBoard => "tensorboard",
            ServiceKind::WebTerminal => "webterminal",
            ServiceKind::CodeServer => "code-server",
            ServiceKind::Custom => "custom",
        }
    }

    /// Parses the word, in any letter case.
    pub fn from_code(code: &str) -> Option<Self> {
        let code = code.to_ascii_lowercase();
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// The protocol of a service port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Tcp,
    Http,
    Https,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Http, Protocol::Https];

    pub fn code(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Http => "http",
            Protocol::Https => "https",
        }
    }

    /// Parses the word, in any letter case.
    pub fn from_code(code: &str) -> Option<Self> {
        let code = code.to_ascii_lowercase();
        Self::ALL.into_iter().find(|p| p.code() == code)
    }
}

/// One service of a public image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageService {
    pub kind: ServiceKind,
    pub port: u16,
    pub protocol: Protocol,
    #[serde(default)]
    pub description: String,
    /// The command the local driver runs to start the service.
    #[serde(default)]
    pub local_command: Option<String>,
}

// ---------------------------------------------------------------------------
// Validated items

/// A GPU type as the admin defined it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuType {
    pub name: String,
    pub resource_name: String,
    pub sharing: Sharing,
    pub node_selector: BTreeMap<String, String>,
    pub memory_gb: u32,
    pub allowed_counts: Vec<u32>,
    pub price_milli: Option<u64>,
}

/// A hardware spec: CPU and RAM, for a GPU type or for CPU-only use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardwareSpec {
    pub name: String,
    pub cpu_milli: u64,
    pub ram_mib: u64,
    pub gpu_type: Option<GpuTypeId>,
    pub price_milli: u64,
}

/// A public image with its versions and services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub name: String,
    pub versions: Vec<String>,
    pub ssh_login: SshLogin,
    pub services: Vec<ImageService>,
}

/// A storage type: a Kubernetes storage class and size limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageType {
    pub name: String,
    pub storage_class: String,
    pub min_gib: u32,
    pub max_gib: u32,
}

/// A project purpose and what it allows (empty lists allow everything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purpose {
    pub name: String,
    pub description: String,
    pub allowed_gpu_types: Vec<GpuTypeId>,
    pub allowed_specs: Vec<HardwareSpecId>,
}

// ---------------------------------------------------------------------------
// Forms as submitted: every field a string, nothing trusted.

/// The GPU type form (create and edit).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GpuTypeRequest {
    pub name: String,
    pub resource_name: String,
    pub sharing: String,
    /// Lines of `key=value`.
    pub node_selector: String,
    pub memory_gb: String,
    /// Comma-separated counts, e.g. `1,2,4,8`.
    pub allowed_counts: String,
    pub price: String,
}

impl GpuTypeRequest {
    /// Checks every field and returns the GPU type to store.
    pub fn validate(&self) -> Result<GpuType, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = display_name(&mut errors, "name", &self.name);
        let resource_name = self.resource_name.trim().to_owned();
        if resource_name.is_empty() {
            errors.add("resource_name", "catalog.error.resource_name_required");
        } else if !is_qualified_name(&resource_name) {
            errors.add("resource_name", "catalog.error.resource_name");
        }
        let sharing = Sharing::from_code(self.sharing.trim()).unwrap_or_else(|| {
            errors.add("sharing", "catalog.error.sharing");
            Sharing::Whole
        });
        let node_selector = parse_node_selector(&self.node_selector).unwrap_or_else(|message| {
            errors.add("node_selector", message);
            BTreeMap::new()
        });
        let memory_gb = whole_number(&self.memory_gb, 1, GPU_MEMORY_MAX_GB)
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or_else(|| {
                errors.add("memory_gb", "catalog.error.memory_gb");
                0
            });
        let allowed_counts = parse_counts(&self.allowed_counts).unwrap_or_else(|message| {
            errors.add("allowed_counts", message);
            Vec::new()
        });
        if sharing.is_shared() && memory_gb > 0 && allowed_counts.iter().any(|&c| c > memory_gb) {
            errors.add("allowed_counts", "catalog.error.counts_over_memory");
        }
        let price_milli = match self.price.trim() {
            "" => None,
            price => price_milli(price).or_else(|| {
                errors.add("price", "catalog.error.price");
                None
            }),
        };
        errors.into_result(GpuType {
            name,
            resource_name,
            sharing,
            node_selector,
            memory_gb,
            allowed_counts,
            price_milli,
        })
    }
}

/// The hardware spec form.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HardwareSpecRequest {
    pub name: String,
    pub cpu_cores: String,
    /// RAM in GB, at most one decimal.
    pub ram_gb: String,
    /// A GPU type id, or empty for a CPU-only spec.
    pub gpu_type: String,
    pub price: String,
}

impl HardwareSpecRequest {
    /// Checks every field; whether the GPU type exists is the caller's
    /// check, inside the transaction that stores the spec.
    pub fn validate(&self) -> Result<HardwareSpec, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = self.name.trim().to_owned();
        if name.is_empty() {
            errors.add("name", "catalog.error.name_required");
        } else if name.chars().count() > NAME_MAX {
            errors.add("name", "catalog.error.name_length");
        } else if !is_spec_name(&name) {
            errors.add("name", "catalog.error.spec_name");
        }
        let cpu_milli = parse_milli(&self.cpu_cores)
            .filter(|&v| v > 0 && v <= CPU_MAX_MILLI)
            .unwrap_or_else(|| {
                errors.add("cpu_cores", "catalog.error.cpu_cores");
                0
            });
        let ram_mib = parse_gb_as_mib(&self.ram_gb)
            .filter(|v| (1..=RAM_MAX_MIB).contains(v))
            .unwrap_or_else(|| {
                errors.add("ram_gb", "catalog.error.ram_gb");
                0
            });
        let gpu_type = match self.gpu_type.trim() {
            "" => None,
            id => id.parse::<GpuTypeId>().map(Some).unwrap_or_else(|_| {
                errors.add("gpu_type", "catalog.error.gpu_type_missing");
                None
            }),
        };
        let price_milli = match self.price.trim() {
            "" => {
                errors.add("price", "catalog.error.price_required");
                0
            }
            price => price_milli(price).unwrap_or_else(|| {
                errors.add("price", "catalog.error.price");
                0
            }),
        };
        errors.into_result(HardwareSpec {
            name,
            cpu_milli,
            ram_mib,
            gpu_type,
            price_milli,
        })
    }
}

/// The public image form.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ImageRequest {
    pub name: String,
    /// Tags, one per line.
    pub versions: String,
    pub ssh_login: String,
    /// Lines of `KIND PORT PROTOCOL [description]`.
    pub services: String,
    /// Lines of `KIND: command` for the local driver.
    pub local_commands: String,
}

impl ImageRequest {
    /// Checks every field and returns the image to store.
    pub fn validate(&self) -> Result<Image, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = self.name.trim().to_owned();
        if name.is_empty() {
            errors.add("name", "catalog.error.name_required");
        } else if !is_image_name(&name) {
            errors.add("name", "catalog.error.image_name");
        }
        let versions = parse_versions(&self.versions).unwrap_or_else(|message| {
            errors.add("versions", message);
            Vec::new()
        });
        let ssh_login = SshLogin::from_code(self.ssh_login.trim()).unwrap_or_else(|| {
            errors.add("ssh_login", "catalog.error.ssh_login");
            SshLogin::Password
        });
        let mut services = parse_services(&self.services).unwrap_or_else(|message| {
            errors.add("services", message);
            Vec::new()
        });
        if let Err(message) = apply_local_commands(&self.local_commands, &mut services) {
            errors.add("local_commands", message);
        }
        errors.into_result(Image {
            name,
            versions,
            ssh_login,
            services,
        })
    }
}

/// The storage type form.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StorageTypeRequest {
    pub name: String,
    pub storage_class: String,
    pub min_gib: String,
    pub max_gib: String,
}

impl StorageTypeRequest {
    /// Checks every field and returns the storage type to store.
    pub fn validate(&self) -> Result<StorageType, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = display_name(&mut errors, "name", &self.name);
        let storage_class = self.storage_class.trim().to_owned();
        if !is_dns_subdomain(&storage_class) {
            errors.add("storage_class", "catalog.error.storage_class");
        }
        let size = |errors: &mut FieldErrors, field: &'static str, input: &str| {
            whole_number(input, 1, STORAGE_MAX_GIB)
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or_else(|| {
                    errors.add(field, "catalog.error.size_gib");
                    0
                })
        };
        let min_gib = size(&mut errors, "min_gib", &self.min_gib);
        let max_gib = size(&mut errors, "max_gib", &self.max_gib);
        if min_gib > 0 && max_gib > 0 && min_gib > max_gib {
            errors.add("max_gib", "catalog.error.max_below_min");
        }
        errors.into_result(StorageType {
            name,
            storage_class,
            min_gib,
            max_gib,
        })
    }
}

/// The project purpose form. The ticked boxes arrive as repeated fields, so
/// the web layer fills the two lists.
#[derive(Debug, Clone, Default)]
pub struct PurposeRequest {
    pub name: String,
    pub description: String,
    pub allowed_gpu_types: Vec<String>,
    pub allowed_specs: Vec<String>,
}

impl PurposeRequest {
    /// Checks every field; whether the ticked items exist is the caller's
    /// check, inside the transaction that stores the purpose.
    pub fn validate(&self) -> Result<Purpose, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = display_name(&mut errors, "name", &self.name);
        let description = self.description.replace("\r\n", "\n").trim().to_owned();
        if description.chars().count() > DESCRIPTION_MAX {
            errors.add("description", "catalog.error.description_length");
        } else if description
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            errors.add("description", "catalog.error.control_chars");
        }
        let allowed_gpu_types = parse_ids(&self.allowed_gpu_types).unwrap_or_else(|| {
            errors.add("allowed_gpu_types", "catalog.error.choice_unknown");
            Vec::new()
        });
        let allowed_specs = parse_ids(&self.allowed_specs).unwrap_or_else(|| {
            errors.add("allowed_specs", "catalog.error.choice_unknown");
            Vec::new()
        });
        errors.into_result(Purpose {
            name,
            description,
            allowed_gpu_types,
            allowed_specs,
        })
    }
}

// ---------------------------------------------------------------------------
// Showing stored values in the forms again.

/// Counts as the form shows them: `1,2,4,8`.
pub fn counts_text(counts: &[u32]) -> String {
    counts
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A node selector as the form shows it: `key=value` lines.
pub fn node_selector_text(selector: &BTreeMap<String, String>) -> String {
    selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Services as the form shows them: `KIND PORT PROTOCOL [description]` lines.
pub fn services_text(services: &[ImageService]) -> String {
    services
        .iter()
        .map(|s| {
            format!(
                "{} {} {} {}",
                s.kind.code(),
                s.port,
                s.protocol.code(),
                s.description
            )
            .trim_end()
            .to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Local commands as the form shows them: `KIND: command` lines.
pub fn local_commands_text(services: &[ImageService]) -> String {
    services
        .iter()
        .filter_map(|s| {
            s.local_command
                .as_ref()
                .map(|c| format!("{}: {c}", s.kind.code()))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------
// Rules

/// A display name: 1 to 64 characters, no control characters.
fn display_name(errors: &mut FieldErrors, field: &'static str, input: &str) -> String {
    let name = input.trim();
    if name.is_empty() {
        errors.add(field, "catalog.error.name_required");
    } else if name.chars().count() > NAME_MAX {
        errors.add(field, "catalog.error.name_length");
    } else if name.chars().any(char::is_control) {
        errors.add(field, "catalog.error.control_chars");
    }
    name.to_owned()
}

/// A hardware spec name such as `p4.tiny.1g`: letters, digits, '.', '_' and
/// '-', starting with a letter or digit.
fn is_spec_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// An image name: 2 to 128 lowercase letters, digits, '-', '_', '.' and
/// '/', starting and ending with a letter or digit.
pub fn is_image_name(name: &str) -> bool {
    let edge = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    (IMAGE_NAME_MIN..=IMAGE_NAME_MAX).contains(&name.len())
        && name.starts_with(edge)
        && name.ends_with(edge)
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_./".contains(c))
}

/// An image tag: 1 to 128 of letters, digits, '_', '.', '-', not starting
/// with '.' or '-'.
pub fn is_tag(tag: &str) -> bool {
    (1..=TAG_MAX).contains(&tag.len())
        && !tag.starts_with(['.', '-'])
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// A DNS-1123 subdomain (Kubernetes object names such as storage classes):
/// at most 253 lowercase letters, digits, '-' and '.', each dot-separated
/// label starting and ending with a letter or digit.
pub fn is_dns_subdomain(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    (1..=253).contains(&s.len())
        && s.split('.').all(|label| {
            label.starts_with(alnum)
                && label.ends_with(alnum)
                && label.chars().all(|c| alnum(c) || c == '-')
        })
}

/// The name part of a Kubernetes qualified name: 1 to 63 letters, digits,
/// '-', '_' and '.', starting and ending with a letter or digit.
fn is_name_part(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    (1..=63).contains(&s.len())
        && s.starts_with(alnum)
        && s.ends_with(alnum)
        && s.chars().all(|c| alnum(c) || "-_.".contains(c))
}

/// A Kubernetes qualified name, as label keys and extended resource names
/// are: an optional DNS-subdomain prefix and '/', then the name part.
pub fn is_qualified_name(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_name_part(name),
        None => is_name_part(s),
    }
}

/// A Kubernetes label value: empty, or a name part.
pub fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_name_part(s)
}

/// The non-blank lines of a text area, trimmed.
fn lines(input: &str) -> impl Iterator<Item = &str> {
    input.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// A whole number in `min..=max`, digits only.
fn whole_number(input: &str, min: u64, max: u64) -> Option<u64> {
    let text = input.trim();
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    text.parse::<u64>().ok().filter(|v| (min..=max).contains(v))
}

fn parse_node_selector(input: &str) -> Result<BTreeMap<String, String>, &'static str> {
    let mut selector = BTreeMap::new();
    for (n, line) in lines(input).enumerate() {
        if n >= LINES_MAX {
            return Err("catalog.error.too_many_lines");
        }
        let (key, value) = line
            .split_once('=')
            .ok_or("catalog.error.node_selector_line")?;
        let (key, value) = (key.trim(), value.trim());
        if !is_qualified_name(key) {
            return Err("catalog.error.label_key");
        }
        if !is_label_value(value) {
            return Err("catalog.error.label_value");
        }
        if selector.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err("catalog.error.label_duplicate");
        }
    }
    Ok(selector)
}

/// Comma-separated positive whole numbers, returned ascending without
/// repeats; at least one.
fn parse_counts(input: &str) -> Result<Vec<u32>, &'static str> {
    let mut counts = Vec::new();
    for part in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let count = whole_number(part, 1, COUNT_MAX)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or("catalog.error.counts")?;
        counts.push(count);
    }
    if counts.is_empty() {
        return Err("catalog.error.counts_required");
    }
    if counts.len() > LINES_MAX {
        return Err("catalog.error.too_many_lines");
    }
    counts.sort_unstable();
    counts.dedup();
    Ok(counts)
}

fn parse_versions(input: &str) -> Result<Vec<String>, &'static str> {
    let mut versions: Vec<String> = Vec::new();
    for tag in lines(input) {
        if versions.len() >= LINES_MAX {
            return Err("catalog.error.too_many_lines");
        }
        if !is_tag(tag) {
            return Err("catalog.error.tag");
        }
        if versions.iter().any(|v| v == tag) {
            return Err("catalog.error.tag_duplicate");
        }
        versions.push(tag.to_owned());
    }
    if versions.is_empty() {
        return Err("catalog.error.versions_required");
    }
    Ok(versions)
}

/// The first whitespace-separated word of `s` and the rest after it.
fn next_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

fn parse_service_line(line: &str) -> Result<ImageService, &'static str> {
    let (kind, rest) = next_word(line);
    let (port, rest) = next_word(rest);
    let (protocol, rest) = next_word(rest);
    if port.is_empty() || protocol.is_empty() {
        return Err("catalog.error.service_line");
    }
    let kind = ServiceKind::from_code(kind).ok_or("catalog.error.service_kind")?;
    let port = whole_number(port, 1, 65535)
        .and_then(|p| u16::try_from(p).ok())
        .ok_or("catalog.error.service_port")?;
    let protocol = Protocol::from_code(protocol).ok_or("catalog.error.service_protocol")?;
    let description = rest.trim();
    if description.chars().count() > SERVICE_DESCRIPTION_MAX {
        return Err("catalog.error.service_description");
    }
    Ok(ImageService {
        kind,
        port,
        protocol,
        description: description.to_owned(),
        local_command: None,
    })
}

fn parse_services(input: &str) -> Result<Vec<ImageService>, &'static str> {
    let mut services: Vec<ImageService> = Vec::new();
    for line in lines(input) {
        if services.len() >= LINES_MAX {
            return Err("catalog.error.too_many_lines");
        }
        let service = parse_service_line(line)?;
        if services.iter().any(|s| s.kind == service.kind) {
            return Err("catalog.error.service_kind_duplicate");
        }
        if services.iter().any(|s| s.port == service.port) {
            return Err("catalog.error.service_port_duplicate");
        }
        services.push(service);
    }
    Ok(services)
}

/// Reads `KIND: command` lines into the matching services.
fn apply_local_commands(input: &str, services: &mut [ImageService]) -> Result<(), &'static str> {
    for line in lines(input) {
        let (kind, command) = line.split_once(':').ok_or("catalog.error.command_line")?;
        let command = command.trim();
        if command.is_empty() {
            return Err("catalog.error.command_line");
        }
        if command.chars().count() > COMMAND_MAX {
            return Err("catalog.error.command_length");
        }
        if command.chars().any(char::is_control) {
            return Err("catalog.error.control_chars");
        }
        let kind = ServiceKind::from_code(kind.trim()).ok_or("catalog.error.service_kind")?;
        let service = services
            .iter_mut()
            .find(|s| s.kind == kind)
            .ok_or("catalog.error.command_service")?;
        if service.local_command.is_some() {
            return Err("catalog.error.command_duplicate");
        }
        service.local_command = Some(command.to_owned());
    }
    Ok(())
}

/// Parses ticked ids, dropping repeats; `None` if one is not an id.
fn parse_ids<T: std::str::FromStr + PartialEq>(input: &[String]) -> Option<Vec<T>> {
    let mut ids: Vec<T> = Vec::new();
    for text in input.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let id = text.parse::<T>().ok()?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Some(ids)
}

/// An hourly price of at most [`PRICE_MAX_MILLI`], in thousandths.
fn price_milli(text: &str) -> Option<u64> {
    parse_milli(text).filter(|&v| v <= PRICE_MAX_MILLI)
}

// ---------------------------------------------------------------------------
// The default catalog a new store starts with, so that a fresh install can
// run a container before anyone defined a catalog. Built as the admin's
// forms, so the seeded items pass the same rules.

/// The name of the image whose services run from the host's own programs
/// (in the local driver's sandbox).
pub const HOST_IMAGE_NAME: &str = "host-environment";
/// Its only version.
pub const HOST_IMAGE_VERSION: &str = "host";
/// How the host environment starts JupyterLab: on loopback at `$PORT`,
/// under the path prefix the service proxy gives (`$BASE_URL`), trusting
/// only the proxy's token (`$SERVICE_TOKEN`; without one it does not
/// start rather than run open), serving the Jupyter working directory the
/// wizard set (`$JUPYTER_WORKDIR`), else its working directory.
pub const JUPYTERLAB_LOCAL_COMMAND: &str = "exec jupyter lab --no-browser --ip=127.0.0.1 --port=\"$PORT\" --ServerApp.base_url=\"$BASE_URL\" --ServerApp.token=\"${SERVICE_TOKEN:?}\" --ServerApp.root_dir=\"${JUPYTER_WORKDIR:-$PWD}\"";

/// A GPU model the local driver found, and how many of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedGpu {
    /// As nvidia-smi names it (`NVIDIA H200`).
    pub name: String,
    pub memory_mib: u64,
    pub count: u32,
}

/// The CPU-only hardware spec: 2 cores and 4 GB, free of charge.
pub fn seed_cpu_spec() -> HardwareSpecRequest {
    HardwareSpecRequest {
        name: "cpu.2c.4g".into(),
        cpu_cores: "2".into(),
        ram_gb: "4".into(),
        gpu_type: String::new(),
        price: "0".into(),
    }
}

/// A whole-GPU type for a model found on the host: counts from 1 to the
/// number of its cards, no price set.
pub fn seed_gpu_type(gpu: &SeedGpu) -> GpuTypeRequest {
    let memory_gb = gpu.memory_mib.div_ceil(1024).max(1);
    GpuTypeRequest {
        name: gpu.name.clone(),
        resource_name: "nvidia.com/gpu".into(),
        sharing: Sharing::Whole.code().into(),
        node_selector: String::new(),
        memory_gb: memory_gb.to_string(),
        allowed_counts: (1..=gpu.count.max(1))
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(","),
        price: String::new(),
    }
}

/// The hardware spec that goes with a seeded GPU type: 4 cores and 16 GB
/// per container, free of charge, named after the model
/// (`nvidia-h200.4c.16g`).
pub fn seed_gpu_spec(gpu: &SeedGpu, gpu_type: GpuTypeId) -> HardwareSpecRequest {
    const SUFFIX: &str = ".4c.16g";
    let mut slug = String::new();
    for c in gpu.name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(NAME_MAX - SUFFIX.len());
    let slug = slug.trim_end_matches('-');
    let slug = if slug.is_empty() { "gpu" } else { slug };
    HardwareSpecRequest {
        name: format!("{slug}{SUFFIX}"),
        cpu_cores: "4".into(),
        ram_gb: "16".into(),
        gpu_type: gpu_type.to_string(),
        price: "0".into(),
    }
}

/// The host environment image: mlstack's own web terminal, JupyterLab
/// when the host has `jupyter`, and SSH by key pair when the local driver
/// serves it (OpenSSH's server installed, workloads sandboxed; no local
/// command: the driver runs sshd itself).
pub fn seed_host_image(jupyter: bool, ssh: bool) -> ImageRequest {
    let mut services = vec![format!(
        "{} 7681 {}",
        ServiceKind::WebTerminal.code(),
        Protocol::Http.code()
    )];
    if ssh {
        services.push(format!(
            "{} 22 {}",
            ServiceKind::Ssh.code(),
            Protocol::Tcp.code()
        ));
    }
    let mut local_commands = String::new();
    if jupyter {
        let kind = ServiceKind::JupyterLab.code();
        services.push(format!("{kind} 8888 {}", Protocol::Http.code()));
        local_commands = format!("{kind}: {JUPYTERLAB_LOCAL_COMMAND}");
    }
    ImageRequest {
        name: HOST_IMAGE_NAME.into(),
        versions: HOST_IMAGE_VERSION.into(),
        ssh_login: SshLogin::KeyPair.code().into(),
        services: services.join("\n"),
        local_commands,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu_request() -> GpuTypeRequest {
        GpuTypeRequest {
            name: "Tesla P4 (shared)".into(),
            resource_name: "nvidia.com/gpu.shared".into(),
            sharing: "time_sliced".into(),
            node_selector: "nvidia.com/gpu.product = Tesla-P4\n\n lab/zone=a ".into(),
            memory_gb: "8".into(),
            allowed_counts: "4, 1,2,2".into(),
            price: "0.25".into(),
        }
    }

    #[test]
    fn gpu_units_count_whole_gpus_and_shares_of_one() {
        let p4 = GpuSizing {
            sharing: Sharing::TimeSliced,
            memory_gb: 8,
        };
        assert_eq!(gpu_units_milli(p4, 1), 125, "1 GB of an 8 GB P4");
        assert_eq!(gpu_units_milli(p4, 8), 1000);
        let hami = GpuSizing {
            sharing: Sharing::MemorySliced,
            memory_gb: 3,
        };
        assert_eq!(gpu_units_milli(hami, 1), 334, "a share rounds up");
        let whole = GpuSizing {
            sharing: Sharing::Whole,
            memory_gb: 80,
        };
        assert_eq!(gpu_units_milli(whole, 2), 2000);
        let mig = GpuSizing {
            sharing: Sharing::Mig,
            memory_gb: 10,
        };
        assert_eq!(gpu_units_milli(mig, 1), 1000, "a MIG instance is a device");
        assert_eq!(gpu_units_milli(whole, 0), 0);
    }

    #[test]
    fn a_good_gpu_type_is_normalised() {
        let gpu = gpu_request().validate().expect("valid");
        assert_eq!(gpu.name, "Tesla P4 (shared)");
        assert_eq!(gpu.sharing, Sharing::TimeSliced);
        assert_eq!(gpu.allowed_counts, vec![1, 2, 4]);
        assert_eq!(gpu.price_milli, Some(250));
        assert_eq!(
            gpu.node_selector
                .get("nvidia.com/gpu.product")
                .map(String::as_str),
            Some("Tesla-P4")
        );
        assert_eq!(gpu.node_selector.len(), 2);
        let no_price = GpuTypeRequest {
            price: " ".into(),
            ..gpu_request()
        };
        assert_eq!(no_price.validate().map(|g| g.price_milli), Ok(None));
    }

    #[test]
    fn resource_names_follow_kubernetes() {
        for good in [
            "nvidia.com/gpu",
            "nvidia.com/gpu.shared",
            "nvidia.com/mig-1g.10gb",
            "nvidia.com/gpumem",
            "amd.com/gpu",
            "gpu",
        ] {
            assert!(is_qualified_name(good), "{good}");
        }
        for bad in [
            "",
            "nvidia.com/",
            "/gpu",
            "Nvidia.com/gpu",
            "nvidia.com/gpu/x",
            "nvidia..com/gpu",
            "nvidia.com/-gpu",
            "nvidia.com/gpu shared",
        ] {
            assert!(!is_qualified_name(bad), "{bad}");
        }
        let errors = GpuTypeRequest {
            resource_name: "nvidia.com/gpu shared".into(),
            ..gpu_request()
        }
        .validate()
        .err()
        .unwrap_or_default();
        assert_eq!(
            errors.get("resource_name"),
            Some("catalog.error.resource_name")
        );
    }

    #[test]
    fn gpu_type_validation_names_each_bad_field() {
        let request = GpuTypeRequest {
            name: String::new(),
            resource_name: String::new(),
            sharing: "magic".into(),
            node_selector: "no equals sign".into(),
            memory_gb: "0".into(),
            allowed_counts: "1,x".into(),
            price: "-1".into(),
        };
        let errors = request.validate().err().unwrap_or_default();
        assert_eq!(errors.get("name"), Some("catalog.error.name_required"));
        assert_eq!(
            errors.get("resource_name"),
            Some("catalog.error.resource_name_required")
        );
        assert_eq!(errors.get("sharing"), Some("catalog.error.sharing"));
        assert_eq!(
            errors.get("node_selector"),
            Some("catalog.error.node_selector_line")
        );
        assert_eq!(errors.get("memory_gb"), Some("catalog.error.memory_gb"));
        assert_eq!(errors.get("allowed_counts"), Some("catalog.error.counts"));
        assert_eq!(errors.get("price"), Some("catalog.error.price"));

        let check = |selector: &str| {
            GpuTypeRequest {
                node_selector: selector.into(),
                ..gpu_request()
            }
            .validate()
            .err()
            .and_then(|e| e.get("node_selector"))
        };
        assert_eq!(check("bad key!=x"), Some("catalog.error.label_key"));
        assert_eq!(check("zone=not valid"), Some("catalog.error.label_value"));
        assert_eq!(
            check("zone=a\nzone=b"),
            Some("catalog.error.label_duplicate")
        );
        assert_eq!(
            check("zone="),
            None,
            "an empty value is a valid label value"
        );

        let counts = |counts: &str, sharing: &str| {
            GpuTypeRequest {
                allowed_counts: counts.into(),
                sharing: sharing.into(),
                ..gpu_request()
            }
            .validate()
            .err()
            .and_then(|e| e.get("allowed_counts"))
        };
        assert_eq!(counts("", "whole"), Some("catalog.error.counts_required"));
        assert_eq!(counts("0", "whole"), Some("catalog.error.counts"));
        assert_eq!(counts("1.5", "whole"), Some("catalog.error.counts"));
        assert_eq!(
            counts("4,16", "memory_sliced"),
            Some("catalog.error.counts_over_memory"),
            "a share cannot exceed one GPU's memory"
        );
        assert_eq!(counts("16", "whole"), None);
    }

    #[test]
    fn hardware_specs_take_decimal_cores() {
        let request = HardwareSpecRequest {
            name: "p4.tiny.1g".into(),
            cpu_cores: "0.5".into(),
            ram_gb: "0.5".into(),
            gpu_type: GpuTypeId::generate().to_string(),
            price: "1.25".into(),
        };
        let spec = request.validate().expect("valid");
        assert_eq!(spec.cpu_milli, 500);
        assert_eq!(spec.ram_mib, 512);
        assert_eq!(spec.price_milli, 1250);
        assert!(spec.gpu_type.is_some());
        let cpu_only = HardwareSpecRequest {
            gpu_type: String::new(),
            ..request.clone()
        };
        assert_eq!(cpu_only.validate().map(|s| s.gpu_type), Ok(None));

        let errors = HardwareSpecRequest {
            name: "p4 tiny".into(),
            cpu_cores: "0".into(),
            ram_gb: "1.25".into(),
            gpu_type: "not-an-id".into(),
            price: String::new(),
        }
        .validate()
        .err()
        .unwrap_or_default();
        assert_eq!(errors.get("name"), Some("catalog.error.spec_name"));
        assert_eq!(errors.get("cpu_cores"), Some("catalog.error.cpu_cores"));
        assert_eq!(errors.get("ram_gb"), Some("catalog.error.ram_gb"));
        assert_eq!(
            errors.get("gpu_type"),
            Some("catalog.error.gpu_type_missing")
        );
        assert_eq!(errors.get("price"), Some("catalog.error.price_required"));
        let too_precise = HardwareSpecRequest {
            cpu_cores: "0.0001".into(),
            ..request
        };
        assert!(too_precise.validate().is_err());
    }

    fn image_request() -> ImageRequest {
        ImageRequest {
            name: "pytorch/pytorch".into(),
            versions: "2.4.0-cuda12.1\nlatest\n".into(),
            ssh_login: "key_pair".into(),
            services: "jupyterlab 8888 http JupyterLab for notebooks\nSSH 22 tcp\n".into(),
            local_commands: "jupyterlab: jupyter lab --ip=0.0.0.0 --port=8888".into(),
        }
    }

    #[test]
    fn images_parse_versions_services_and_local_commands() {
        let image = image_request().validate().expect("valid");
        assert_eq!(image.versions, vec!["2.4.0-cuda12.1", "latest"]);
        assert_eq!(image.ssh_login, SshLogin::KeyPair);
        assert_eq!(image.services.len(), 2);
        let lab = &image.services[0];
        assert_eq!(lab.kind, ServiceKind::JupyterLab);
        assert_eq!(lab.port, 8888);
        assert_eq!(lab.protocol, Protocol::Http);
        assert_eq!(lab.description, "JupyterLab for notebooks");
        assert_eq!(
            lab.local_command.as_deref(),
            Some("jupyter lab --ip=0.0.0.0 --port=8888")
        );
        assert_eq!(image.services[1].kind, ServiceKind::Ssh);
        assert_eq!(image.services[1].local_command, None);
        assert_eq!(
            services_text(&image.services),
            "jupyterlab 8888 http JupyterLab for notebooks\nssh 22 tcp"
        );
        assert_eq!(
            local_commands_text(&image.services),
            "jupyterlab: jupyter lab --ip=0.0.0.0 --port=8888"
        );
    }

    #[test]
    fn image_validation_names_each_bad_field() {
        let check = |request: ImageRequest, field: &str| {
            request.validate().err().and_then(|e| e.get(field))
        };
        let base = image_request;
        for (name, ok) in [
            ("ubuntu", true),
            ("lab/tensorflow_2.16", true),
            ("a", false),
            ("Ubuntu", false),
            ("-ubuntu", false),
            ("ubuntu/", false),
            ("ubu ntu", false),
        ] {
            let result = check(
                ImageRequest {
                    name: name.into(),
                    ..base()
                },
                "name",
            );
            assert_eq!(result.is_none(), ok, "{name}");
        }
        assert_eq!(
            check(
                ImageRequest {
                    name: "x".repeat(129),
                    ..base()
                },
                "name"
            ),
            Some("catalog.error.image_name")
        );
        let versions = |v: &str| {
            check(
                ImageRequest {
                    versions: v.into(),
                    ..base()
                },
                "versions",
            )
        };
        assert_eq!(versions(""), Some("catalog.error.versions_required"));
        assert_eq!(versions("-rc1"), Some("catalog.error.tag"));
        assert_eq!(versions(".hidden"), Some("catalog.error.tag"));
        assert_eq!(versions("v1:2"), Some("catalog.error.tag"));
        assert_eq!(versions(&"a".repeat(129)), Some("catalog.error.tag"));
        assert_eq!(versions("v1\nv1"), Some("catalog.error.tag_duplicate"));
        assert_eq!(versions("v"), None);
        let services = |s: &str| {
            check(
                ImageRequest {
                    services: s.into(),
                    local_commands: String::new(),
                    ..base()
                },
                "services",
            )
        };
        assert_eq!(services("ssh 22"), Some("catalog.error.service_line"));
        assert_eq!(services("ftp 21 tcp"), Some("catalog.error.service_kind"));
        assert_eq!(services("ssh 0 tcp"), Some("catalog.error.service_port"));
        assert_eq!(
            services("ssh 65536 tcp"),
            Some("catalog.error.service_port")
        );
        assert_eq!(
            services("ssh 22 udp"),
            Some("catalog.error.service_protocol")
        );
        assert_eq!(
            services("ssh 22 tcp\nssh 2222 tcp"),
            Some("catalog.error.service_kind_duplicate")
        );
        assert_eq!(
            services("ssh 22 tcp\ncustom 22 http"),
            Some("catalog.error.service_port_duplicate")
        );
        assert_eq!(services(""), None, "an image may have no services");
        let commands = |c: &str| {
            check(
                ImageRequest {
                    local_commands: c.into(),
                    ..base()
                },
                "local_commands",
            )
        };
        assert_eq!(commands("jupyterlab"), Some("catalog.error.command_line"));
        assert_eq!(
            commands("jupyterlab:  "),
            Some("catalog.error.command_line")
        );
        assert_eq!(
            commands("tensorboard: tensorboard --logdir ."),
            Some("catalog.error.command_service")
        );
        assert_eq!(
            commands("ssh: /usr/sbin/sshd -D\nssh: other"),
            Some("catalog.error.command_duplicate")
        );
        assert_eq!(
            check(
                ImageRequest {
                    ssh_login: "telnet".into(),
                    ..base()
                },
                "ssh_login"
            ),
            Some("catalog.error.ssh_login")
        );
    }

    #[test]
    fn storage_types_need_a_class_and_sane_limits() {
        let request = StorageTypeRequest {
            name: "NFS".into(),
            storage_class: "nfs-client".into(),
            min_gib: "1".into(),
            max_gib: "500".into(),
        };
        let storage = request.validate().expect("valid");
        assert_eq!((storage.min_gib, storage.max_gib), (1, 500));
        let errors = StorageTypeRequest {
            name: "x".repeat(65),
            storage_class: "NFS_Client".into(),
            min_gib: "0".into(),
            max_gib: "65537".into(),
        }
        .validate()
        .err()
        .unwrap_or_default();
        assert_eq!(errors.get("name"), Some("catalog.error.name_length"));
        assert_eq!(
            errors.get("storage_class"),
            Some("catalog.error.storage_class")
        );
        assert_eq!(errors.get("min_gib"), Some("catalog.error.size_gib"));
        assert_eq!(errors.get("max_gib"), Some("catalog.error.size_gib"));
        let inverted = StorageTypeRequest {
            min_gib: "100".into(),
            max_gib: "10".into(),
            ..request
        };
        assert_eq!(
            inverted.validate().err().and_then(|e| e.get("max_gib")),
            Some("catalog.error.max_below_min")
        );
        assert!(is_dns_subdomain("fast.ssd-1"));
        assert!(!is_dns_subdomain("-fast"));
        assert!(!is_dns_subdomain("fast."));
        assert!(!is_dns_subdomain(&"a".repeat(254)));
    }

    #[test]
    fn purposes_take_ticked_ids() {
        let gpu = GpuTypeId::generate();
        let request = PurposeRequest {
            name: "Teaching".into(),
            description: "Courses\r\nand labs".into(),
            allowed_gpu_types: vec![gpu.to_string(), gpu.to_string()],
            allowed_specs: Vec::new(),
        };
        let purpose = request.validate().expect("valid");
        assert_eq!(purpose.allowed_gpu_types, vec![gpu]);
        assert_eq!(purpose.description, "Courses\nand labs");
        let errors = PurposeRequest {
            name: "Bad\u{7}".into(),
            description: "x".repeat(501),
            allowed_gpu_types: vec!["nope".into()],
            allowed_specs: vec!["nope".into()],
        }
        .validate()
        .err()
        .unwrap_or_default();
        assert_eq!(errors.get("name"), Some("catalog.error.control_chars"));
        assert_eq!(
            errors.get("description"),
            Some("catalog.error.description_length")
        );
        assert_eq!(
            errors.get("allowed_gpu_types"),
            Some("catalog.error.choice_unknown")
        );
        assert_eq!(
            errors.get("allowed_specs"),
            Some("catalog.error.choice_unknown")
        );
    }

    #[test]
    fn kinds_and_codes_round_trip() {
        for kind in CatalogKind::ALL {
            assert_eq!(CatalogKind::from_slug(kind.slug()), Some(kind));
        }
        assert_eq!(CatalogKind::from_slug("gpus"), None);
        for sharing in Sharing::ALL {
            assert_eq!(Sharing::from_code(sharing.code()), Some(sharing));
        }
        assert_eq!(
            ServiceKind::from_code("Code-Server"),
            Some(ServiceKind::CodeServer)
        );
        assert_eq!(Protocol::from_code("HTTPS"), Some(Protocol::Https));
        let mut selector = BTreeMap::new();
        selector.insert("b".to_owned(), "2".to_owned());
        selector.insert("a".to_owned(), String::new());
        assert_eq!(node_selector_text(&selector), "a=\nb=2");
        assert_eq!(counts_text(&[1, 2, 4]), "1,2,4");
    }

    #[test]
    fn the_seeded_items_pass_the_admin_forms_rules() {
        let cpu = seed_cpu_spec().validate().expect("a valid spec");
        assert_eq!(
            (cpu.cpu_milli, cpu.ram_mib, cpu.gpu_type),
            (2000, 4096, None)
        );
        assert_eq!(cpu.price_milli, 0);

        let h200 = SeedGpu {
            name: "NVIDIA H200".into(),
            memory_mib: 143_771,
            count: 3,
        };
        let gpu = seed_gpu_type(&h200).validate().expect("a valid GPU type");
        assert_eq!(gpu.name, "NVIDIA H200");
        assert_eq!(gpu.sharing, Sharing::Whole);
        assert_eq!(gpu.memory_gb, 141);
        assert_eq!(gpu.allowed_counts, vec![1, 2, 3]);
        assert_eq!(gpu.price_milli, None);
        let id = GpuTypeId::generate();
        let spec = seed_gpu_spec(&h200, id).validate().expect("a valid spec");
        assert_eq!(spec.name, "nvidia-h200.4c.16g");
        assert_eq!(spec.gpu_type, Some(id));
        let odd = SeedGpu {
            name: format!("  ({})", "Ä".repeat(70)),
            memory_mib: 0,
            count: 0,
        };
        assert_eq!(seed_gpu_spec(&odd, id).name, "gpu.4c.16g");
        let long = SeedGpu {
            name: "x ".repeat(60),
            ..odd
        };
        let long_spec = seed_gpu_spec(&long, id).validate().expect("valid");
        assert!(long_spec.name.len() <= NAME_MAX, "{}", long_spec.name);

        let plain = seed_host_image(false, false)
            .validate()
            .expect("a valid image");
        assert_eq!(plain.name, HOST_IMAGE_NAME);
        assert_eq!(plain.versions, vec![HOST_IMAGE_VERSION.to_owned()]);
        let kinds: Vec<ServiceKind> = plain.services.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, vec![ServiceKind::WebTerminal]);
        let ssh = seed_host_image(false, true)
            .validate()
            .expect("a valid image");
        let kinds: Vec<ServiceKind> = ssh.services.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, vec![ServiceKind::WebTerminal, ServiceKind::Ssh]);
        // The driver runs sshd itself, and logs in by key.
        assert_eq!(ssh.services[1].local_command, None);
        assert_eq!(ssh.ssh_login, SshLogin::KeyPair);
        let jupyter = seed_host_image(true, false)
            .validate()
            .expect("a valid image");
        let lab = jupyter
            .services
            .iter()
            .find(|s| s.kind == ServiceKind::JupyterLab)
            .expect("JupyterLab");
        let command = lab.local_command.as_deref().expect("a local command");
        for part in ["--ip=127.0.0.1", "$PORT", "$BASE_URL", "${SERVICE_TOKEN:?}"] {
            assert!(command.contains(part), "{part} in {command}");
        }
        // The wizard's Jupyter working directory is its root directory.
        let root = format!(
            "--ServerApp.root_dir=\"${{{}:-$PWD}}\"",
            crate::domain::workload::JUPYTER_WORKDIR_ENV
        );
        assert!(command.contains(&root), "{root} in {command}");
    }
}

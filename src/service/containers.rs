//! The container create wizard (manual §5.4): the usage terms, what the
//! wizard offers (catalog, volumes, members, what is left of the quota and
//! what the cluster can place), and turning the posted form into container
//! specs. The spec is built here from catalog ids only (units, CPU, RAM,
//! prices and services never come from the client), then created through
//! the workload use cases, which take the quota holds in their insert
//! transaction.

use std::collections::BTreeMap;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use super::guards::{live_project_read_tx, role_of};
use super::{ServiceError, Services};
use crate::cluster::{Capacity, Driver};
use crate::domain::authz::{
    ProjectAction, Role, WorkloadAction, permits_project, permits_workload, storage_mount,
};
use crate::domain::catalog::{ServiceKind, SshLogin};
use crate::domain::ids::{GpuTypeId, HardwareSpecId, ImageId, KeyPairId, ProjectId, UserId};
use crate::domain::image::ImageType;
use crate::domain::project::ProjectRole;
use crate::domain::quota::{
    MILLI, MemberCap, QuotaRefusal, Resources as Amounts, check_fits, left_to_member,
};
use crate::domain::validation::FieldErrors;
use crate::domain::workload::{
    CRYPT_SALT_CHARS, ContainerSpec, GpuRequest, ImageRef, Resources, ServiceSpec, SshAccess,
    VolumeMount, WorkloadId, WorkloadMeta, is_port_name, is_sha512_crypt, mount_path_problem,
};
use crate::store::catalog::{self, GpuTypeRecord, HardwareSpecRecord, ImageRecord};
use crate::store::custom_images::CustomImageRecord;
use crate::store::holds;
use crate::store::key_pairs::KeyPairRecord;
use crate::store::platform::{self, TermsAcceptanceRecord};
use crate::store::projects::ProjectRecord;
use crate::store::users::{self, UserRecord};
use crate::store::volumes::{self, VolumeDesired};

/// Longest container name in the wizard, so that generated object names
/// (and a batch's serial suffix) stay valid.
pub const NAME_MAX: usize = 40;
/// Smallest shared memory, in MB (MiB).
pub const SHM_MIN_MB: u64 = 64;
/// Largest shared memory, in percent of the spec's RAM.
pub const SHM_MAX_PERCENT: u64 = 70;
/// Longest "end after" duration, in hours (a year).
pub const END_AFTER_MAX_HOURS: u64 = 8760;
/// Most containers of one member in a batch.
pub const BATCH_QUANTITY_MAX: u32 = 20;
use crate::domain::workload::JUPYTER_WORKDIR_ENV;

/// The SHA-256 (hex) of a usage terms text: what an acceptance records.
pub fn terms_sha256(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A volume to mount, as posted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountForm {
    /// The volume's name in the project.
    pub volume: String,
    pub path: String,
}

/// The wizard's form as posted: every value as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WizardForm {
    /// The SHA-256 of the usage terms the user ticked "accept" under
    /// (empty: not ticked), so that terms changed meanwhile are not taken
    /// as accepted.
    pub accept_terms: String,
    pub name: String,
    /// `now` or `at`.
    pub start_mode: String,
    /// `YYYY-MM-DDTHH:MM` in the platform's time zone.
    pub start_at: String,
    /// `none`, `at` or `after`.
    pub end_mode: String,
    pub end_at: String,
    pub end_after_hours: String,
    /// A GPU type id, empty for CPU only.
    pub gpu_type: String,
    pub gpu_count: String,
    pub spec: String,
    /// `public` (a catalog image: `image` and `version`) or `custom` (a
    /// custom image of the project: `custom_image`).
    pub image_source: String,
    pub image: String,
    pub version: String,
    /// The id of a custom image (its commit workload's id).
    pub custom_image: String,
    /// The SSH password as typed on this step (never sent back to the
    /// browser: later steps carry `ssh_password_hash` instead).
    pub ssh_password: String,
    /// The SHA-512 crypt hash of a password typed on an earlier step.
    pub ssh_password_hash: String,
    pub ssh_key: String,
    /// The id of one of the user's key pairs (empty: `ssh_key` is pasted).
    pub key_pair: String,
    pub shm: bool,
    pub shm_mb: String,
    pub mounts: Vec<MountForm>,
    /// The volume whose mount path is the Jupyter working directory.
    pub workdir: String,
    /// Member id (as text) -> quantity (as typed), for a manager's batch.
    pub batch: Vec<(String, String)>,
}

impl Default for WizardForm {
    fn default() -> Self {
        Self {
            accept_terms: String::new(),
            name: String::new(),
            start_mode: "now".into(),
            start_at: String::new(),
            end_mode: "none".into(),
            end_at: String::new(),
            end_after_hours: String::new(),
            gpu_type: String::new(),
            gpu_count: String::new(),
            spec: String::new(),
            image_source: "public".into(),
            image: String::new(),
            version: String::new(),
            custom_image: String::new(),
            ssh_password: String::new(),
            ssh_password_hash: String::new(),
            ssh_key: String::new(),
            key_pair: String::new(),
            shm: false,
            shm_mb: String::new(),
            mounts: Vec::new(),
            workdir: String::new(),
            batch: Vec::new(),
        }
    }
}

/// What is left to a new container: of the project's quota, and of the
/// member's cap (None where the cap is unset: "∞").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Availability {
    pub project_left: Amounts,
    pub member_left: MemberCap,
    /// What the cluster has (None: the driver did not answer).
    pub capacity: Option<Capacity>,
}

/// Everything the wizard shows and checks against.
#[derive(Debug, Clone)]
pub struct WizardContext {
    pub project: ProjectRecord,
    /// Whether the viewer may create a batch (a manager or an admin).
    pub may_batch: bool,
    /// The project's members (id, username), for a batch.
    pub members: Vec<(UserId, String)>,
    pub gpu_types: Vec<GpuTypeRecord>,
    pub specs: Vec<HardwareSpecRecord>,
    pub images: Vec<ImageRecord>,
    /// The Ready custom images the viewer may use in the project
    /// ([`Services::usable_custom_images`]), newest first.
    pub custom_images: Vec<CustomImageRecord>,
    /// The viewer's key pairs (their public keys).
    pub key_pairs: Vec<KeyPairRecord>,
    /// Names of the present volumes of the project the viewer may mount.
    pub volumes: Vec<String>,
    pub currency: String,
    pub zone: TimeZone,
    pub terms: String,
    /// When the viewer accepted the current terms (None: not yet).
    pub accepted_at: Option<Timestamp>,
    pub availability: Availability,
    pub now: Timestamp,
}

impl WizardContext {
    pub fn gpu_type(&self, id: &str) -> Option<&GpuTypeRecord> {
        let id: GpuTypeId = id.parse().ok()?;
        self.gpu_types.iter().find(|g| g.id == id)
    }

    pub fn spec(&self, id: &str) -> Option<&HardwareSpecRecord> {
        let id: HardwareSpecId = id.parse().ok()?;
        self.specs.iter().find(|s| s.id == id)
    }

    pub fn image(&self, id: &str) -> Option<&ImageRecord> {
        let id: ImageId = id.parse().ok()?;
        self.images.iter().find(|i| i.id == id)
    }

    pub fn custom_image(&self, id: &str) -> Option<&CustomImageRecord> {
        let id: WorkloadId = id.parse().ok()?;
        self.custom_images.iter().find(|i| i.id == id)
    }

    pub fn key_pair(&self, id: &str) -> Option<&KeyPairRecord> {
        let id: KeyPairId = id.parse().ok()?;
        self.key_pairs.iter().find(|k| k.id == id)
    }

    /// The hourly price, in thousandths of the currency, of one container
    /// with the form's GPU type, count and spec (what is chosen so far).
    pub fn hourly_cost_milli(&self, form: &WizardForm) -> u64 {
        let spec = self.spec(&form.spec).map_or(0, |s| s.price_milli);
        let gpu = self
            .gpu_type(&form.gpu_type)
            .and_then(|g| {
                let count = form.gpu_count.trim().parse::<u32>().ok()?;
                let units = g.units_milli(count);
                Some(g.price_milli.unwrap_or(0).saturating_mul(units) / MILLI)
            })
            .unwrap_or(0);
        spec.saturating_add(gpu)
    }

    /// How many containers the form creates (its batch, else one).
    pub fn container_count(&self, form: &WizardForm) -> u64 {
        let batch: u64 = form
            .batch
            .iter()
            .filter_map(|(_, q)| q.trim().parse::<u32>().ok())
            .map(u64::from)
            .sum();
        batch.max(1)
    }
}

/// Why a wizard's form did not create anything.
#[derive(Debug)]
pub enum WizardError {
    /// Messages beside the fields.
    Invalid(FieldErrors),
    /// The cluster cannot place it now: what is asked and what there is.
    Capacity(Shortfall),
    /// A batch does not fit the cap of `member`: `left` is what remains.
    MemberCap {
        member: String,
        left: Amounts,
        project: String,
    },
    Service(ServiceError),
}

impl From<ServiceError> for WizardError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(errors) => WizardError::Invalid(errors),
            other => WizardError::Service(other),
        }
    }
}

/// What the cluster lacks for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shortfall {
    /// `asked` GPUs of `type_name`, `free` free now.
    Gpus {
        type_name: String,
        asked: u64,
        free: u64,
    },
    /// No node has this much CPU (thousandths) and RAM (MiB); the largest
    /// has `cpu_milli` and `ram_mib`.
    Node {
        cpu_milli: u64,
        ram_mib: u64,
        largest_cpu_milli: u64,
        largest_ram_mib: u64,
    },
}

/// What the cluster lacks for `count` containers of `resources`, if
/// anything. Shared GPU types are counted in GB, which the capacity does
/// not tell: those are left to the scheduler.
fn shortfall(
    capacity: &Capacity,
    resources: &Resources,
    gpu: Option<&GpuTypeRecord>,
    count: u64,
) -> Option<Shortfall> {
    if let (Some(request), Some(gpu_type)) = (&resources.gpu, gpu)
        && !gpu_type.sharing.is_shared()
    {
        let free: u64 = capacity
            .gpus
            .iter()
            .filter(|g| g.type_name == gpu_type.name)
            .map(|g| u64::from(g.free))
            .sum();
        let asked = u64::from(request.count) * count;
        if asked > free {
            return Some(Shortfall::Gpus {
                type_name: gpu_type.name.clone(),
                asked,
                free,
            });
        }
    }
    if capacity.nodes.is_empty() {
        return None;
    }
    let fits = capacity
        .nodes
        .iter()
        .any(|n| n.cpu_milli >= resources.cpu_milli && n.ram_mib >= resources.ram_mib);
    if fits {
        return None;
    }
    Some(Shortfall::Node {
        cpu_milli: resources.cpu_milli,
        ram_mib: resources.ram_mib,
        largest_cpu_milli: capacity
            .nodes
            .iter()
            .map(|n| n.cpu_milli)
            .max()
            .unwrap_or(0),
        largest_ram_mib: capacity.nodes.iter().map(|n| n.ram_mib).max().unwrap_or(0),
    })
}

/// A wizard name: 1 to 40 lowercase letters and digits, starting with a
/// letter (the manual's rule, and a valid object name).
pub fn is_wizard_name(name: &str) -> bool {
    (1..=NAME_MAX).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// A pasted OpenSSH public key: `<type> <base64> [comment]` on one line.
fn is_public_key(key: &str) -> bool {
    const TYPES: [&str; 6] = [
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
    ];
    let mut parts = key.split_whitespace();
    let (Some(kind), Some(body)) = (parts.next(), parts.next()) else {
        return false;
    };
    key.len() <= 16_384
        && !key.contains(['\n', '\r'])
        && TYPES.contains(&kind)
        && body.len() >= 16
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
}

/// A random crypt salt of 16 characters.
fn random_salt() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..16)
        .map(|_| char::from(CRYPT_SALT_CHARS[rng.random_range(0..CRYPT_SALT_CHARS.len())]))
        .collect()
}

/// A time typed as `YYYY-MM-DDTHH:MM` in `zone`.
pub fn parse_local(text: &str, zone: &TimeZone) -> Option<Timestamp> {
    let civil: DateTime = text.trim().parse().ok()?;
    civil.to_zoned(zone.clone()).ok().map(|z| z.timestamp())
}

/// A container's services from its image's: named by their kind (a
/// repeated kind by its port).
fn services_of(image: &ImageRecord) -> Vec<ServiceSpec> {
    let mut out: Vec<ServiceSpec> = Vec::new();
    for service in &image.services {
        let code = match service.kind {
            ServiceKind::Custom => format!("custom-{}", service.port),
            kind => kind.code().to_owned(),
        };
        let name = if is_port_name(&code) && !out.iter().any(|s| s.name == code) {
            code
        } else {
            format!("svc-{}", service.port)
        };
        out.push(ServiceSpec {
            name,
            kind: service.kind,
            port: service.port,
            protocol: service.protocol,
            local_command: service.local_command.clone(),
        });
    }
    out
}

/// How a custom image's SSH service logs in: by key pair (the login of the
/// image it was saved from is not kept with it, and a key is the safer
/// choice).
pub const CUSTOM_SSH_LOGIN: SshLogin = SshLogin::KeyPair;

/// The wizard's GPU type, GPU request and hardware spec (containers and
/// jobs): catalog ids only, the spec of the chosen GPU type.
pub fn check_hardware<'c>(
    form: &WizardForm,
    ctx: &'c WizardContext,
    errors: &mut FieldErrors,
) -> (
    Option<&'c GpuTypeRecord>,
    Option<GpuRequest>,
    Option<&'c HardwareSpecRecord>,
) {
    let gpu_type = match form.gpu_type.trim() {
        "" => None,
        id => {
            let found = ctx.gpu_type(id);
            if found.is_none() {
                errors.add("gpu_type", "wizard.error.gpu_type");
            }
            found
        }
    };
    let gpu = gpu_type.and_then(|g| match form.gpu_count.trim().parse::<u32>() {
        Ok(count) if g.allowed_counts.contains(&count) => Some(GpuRequest {
            resource_name: g.resource_name.clone(),
            type_name: g.name.clone(),
            node_selector: g.node_selector.clone(),
            count,
            units_milli: g.units_milli(count),
        }),
        _ => {
            errors.add("gpu_count", "workload.error.gpu");
            None
        }
    });
    let spec = ctx.spec(form.spec.trim());
    match spec {
        None => errors.add("spec", "wizard.error.spec"),
        Some(s) if s.gpu_type != gpu_type.map(|g| g.id) => {
            errors.add("spec", "wizard.error.spec_gpu_type");
        }
        Some(_) => {}
    }
    (gpu_type, gpu, spec)
}

/// The wizard's image: a public image of the catalog and one of its
/// versions, or a Ready custom image the user may use (its reference and
/// services as saved), with how its SSH logs in.
pub fn check_image(
    form: &WizardForm,
    ctx: &WizardContext,
    errors: &mut FieldErrors,
) -> Option<(ImageRef, Vec<ServiceSpec>, SshLogin)> {
    match form.image_source.as_str() {
        "public" => {
            let found = ctx.image(form.image.trim());
            match found {
                None => errors.add("image", "wizard.error.image"),
                Some(i) if !i.versions.iter().any(|v| v == form.version.trim()) => {
                    errors.add("version", "wizard.error.version");
                }
                Some(_) => {}
            }
            found.map(|i| {
                (
                    ImageRef {
                        name: i.name.clone(),
                        tag: form.version.trim().to_owned(),
                    },
                    services_of(i),
                    i.ssh_login,
                )
            })
        }
        "custom" => {
            let found = ctx.custom_image(form.custom_image.trim());
            if found.is_none() {
                errors.add("custom_image", "wizard.error.custom_image");
            }
            found.map(|i| (i.target.clone(), i.services.clone(), CUSTOM_SSH_LOGIN))
        }
        _ => {
            errors.add("image", "wizard.error.choice");
            None
        }
    }
}

/// The wizard's shared memory in MiB (0: off), within the spec's RAM.
pub fn check_shm(
    form: &WizardForm,
    spec: Option<&HardwareSpecRecord>,
    errors: &mut FieldErrors,
) -> u64 {
    let ram_mib = spec.map_or(0, |s| s.ram_mib);
    if form.shm {
        let max = ram_mib * SHM_MAX_PERCENT / 100;
        match form.shm_mb.trim().parse::<u64>() {
            Ok(mb) if (SHM_MIN_MB..=max).contains(&mb) => mb,
            _ => {
                errors.add("shm_mb", "wizard.error.shm");
                0
            }
        }
    } else {
        0
    }
}

/// The wizard's volumes: the project's volumes the user may mount, each
/// once, at valid and distinct paths.
pub fn check_mounts(
    form: &WizardForm,
    ctx: &WizardContext,
    errors: &mut FieldErrors,
) -> Vec<VolumeMount> {
    let mut mounts: Vec<VolumeMount> = Vec::new();
    for mount in &form.mounts {
        if !ctx.volumes.contains(&mount.volume) {
            errors.add("volumes", "workload.error.volume_unknown");
            break;
        }
        let path = mount.path.trim();
        if let Some(problem) = mount_path_problem(path) {
            errors.add("volumes", problem);
            break;
        }
        let normal = path.trim_end_matches('/');
        if mounts
            .iter()
            .any(|m| m.volume == mount.volume || m.mount_path == normal)
        {
            errors.add("volumes", "wizard.error.mount_repeat");
            break;
        }
        mounts.push(VolumeMount {
            volume: mount.volume.clone(),
            mount_path: normal.to_owned(),
            read_only: false,
        });
    }
    mounts
}

/// The containers a form asks for: one spec per container (a batch has
/// one per member and unit, named `<name>-<serial>`), or every problem
/// beside its field. Ids are set by the creating use case.
pub fn build_specs(
    form: &WizardForm,
    ctx: &WizardContext,
    actor: UserId,
    salt: &str,
) -> Result<Vec<ContainerSpec>, FieldErrors> {
    let mut errors = FieldErrors::new();
    if ctx.accepted_at.is_none() {
        if form.accept_terms.is_empty() {
            errors.add("accept_terms", "wizard.error.terms");
        } else if form.accept_terms != terms_sha256(&ctx.terms) {
            errors.add("accept_terms", "wizard.error.terms_changed");
        }
    }
    let name = form.name.trim();
    if !is_wizard_name(name) {
        errors.add("name", "wizard.error.name");
    }

    // When.
    let start_at = match form.start_mode.as_str() {
        "now" => None,
        "at" => match parse_local(&form.start_at, &ctx.zone) {
            Some(t) if t > ctx.now => Some(t),
            Some(_) => {
                errors.add("start_at", "wizard.error.start_past");
                None
            }
            None => {
                errors.add("start_at", "wizard.error.time");
                None
            }
        },
        _ => {
            errors.add("start_at", "wizard.error.choice");
            None
        }
    };
    let begins = start_at.unwrap_or(ctx.now);
    let end_at = match form.end_mode.as_str() {
        "none" => None,
        "at" => match parse_local(&form.end_at, &ctx.zone) {
            Some(t) if t > begins => Some(t),
            Some(_) => {
                errors.add("end", "workload.error.end_before_start");
                None
            }
            None => {
                errors.add("end", "wizard.error.time");
                None
            }
        },
        "after" => match form.end_after_hours.trim().parse::<u64>() {
            Ok(h) if (1..=END_AFTER_MAX_HOURS).contains(&h) => {
                let hours = i64::try_from(h).unwrap_or(i64::MAX);
                begins.checked_add(SignedDuration::from_hours(hours)).ok()
            }
            _ => {
                errors.add("end", "wizard.error.end_after");
                None
            }
        },
        _ => {
            errors.add("end", "wizard.error.choice");
            None
        }
    };

    let (_, gpu, spec) = check_hardware(form, ctx, &mut errors);
    let image = check_image(form, ctx, &mut errors);
    let private_custom = form.image_source == "custom"
        && ctx
            .custom_image(form.custom_image.trim())
            .is_some_and(|i| i.image_type == ImageType::Private);
    let has_ssh = image
        .as_ref()
        .is_some_and(|(_, services, _)| services.iter().any(|s| s.kind == ServiceKind::Ssh));
    let ssh = match image.as_ref().map(|(_, _, login)| *login) {
        Some(_) if !has_ssh => SshAccess::None,
        Some(SshLogin::KeyPair) => match form.key_pair.trim() {
            "" => {
                let key = form.ssh_key.trim();
                if is_public_key(key) {
                    SshAccess::Keys(vec![key.to_owned()])
                } else {
                    errors.add("ssh_key", "wizard.error.ssh_key");
                    SshAccess::None
                }
            }
            id => match ctx.key_pair(id) {
                Some(pair) => SshAccess::Keys(vec![pair.public_key.clone()]),
                None => {
                    errors.add("ssh_key", "wizard.error.key_pair");
                    SshAccess::None
                }
            },
        },
        Some(SshLogin::Password)
            if form.ssh_password.is_empty() && is_sha512_crypt(&form.ssh_password_hash) =>
        {
            SshAccess::PasswordHash(form.ssh_password_hash.clone())
        }
        Some(SshLogin::Password) => match SshAccess::from_password(&form.ssh_password, salt) {
            Ok(access) => access,
            Err(key) => {
                errors.add("ssh_password", key);
                SshAccess::None
            }
        },
        None => SshAccess::None,
    };

    // Advanced: shared memory and volumes.
    let shm_mib = check_shm(form, spec, &mut errors);
    let mounts = check_mounts(form, ctx, &mut errors);
    let mut env = BTreeMap::new();
    if !form.workdir.is_empty() {
        match mounts.iter().find(|m| m.volume == form.workdir) {
            Some(m) => {
                env.insert(JUPYTER_WORKDIR_ENV.to_owned(), m.mount_path.clone());
            }
            None => errors.add("workdir", "wizard.error.workdir"),
        }
    }

    // Who: the viewer, or a manager's batch.
    let mut owners: Vec<(UserId, u32)> = Vec::new();
    for (member, quantity) in &form.batch {
        let quantity = match quantity.trim() {
            "" => 0,
            q => match q.parse::<u32>() {
                Ok(n) if n <= BATCH_QUANTITY_MAX => n,
                _ => {
                    errors.add("batch", "wizard.error.batch_quantity");
                    break;
                }
            },
        };
        if quantity == 0 {
            continue;
        }
        let known = member
            .parse::<UserId>()
            .ok()
            .filter(|id| ctx.members.iter().any(|(m, _)| m == id));
        match known {
            Some(id) if !owners.iter().any(|(o, _)| *o == id) => owners.push((id, quantity)),
            _ => {
                errors.add("batch", "wizard.error.batch_member");
                break;
            }
        }
    }
    let batch = !owners.is_empty();
    if batch && !ctx.may_batch {
        errors.add("batch", "wizard.error.batch_manager");
    }
    let total: u32 = owners.iter().map(|(_, q)| q).sum();
    let suffix_len = format!("-{total}").len();
    if batch && name.len() + suffix_len > NAME_MAX {
        errors.add("name", "wizard.error.name_batch");
    }
    if batch && private_custom {
        errors.add("custom_image", "wizard.error.batch_private_image");
    }
    if !batch {
        owners.push((actor, 1));
    }

    let (Some(spec), Some((image, services, _))) = (spec, image) else {
        return Err(errors);
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let template = ContainerSpec {
        meta: WorkloadMeta {
            id: WorkloadId::generate(),
            project: ctx.project.id,
            owner: actor,
            name: name.to_owned(),
        },
        image,
        command: None,
        env,
        resources: Resources {
            cpu_milli: spec.cpu_milli,
            ram_mib: spec.ram_mib,
            shm_mib,
            gpu,
        },
        volumes: mounts,
        services,
        ssh,
        start_at,
        end_at,
    };
    let mut specs = Vec::new();
    let mut serial = 0;
    for (owner, quantity) in owners {
        for _ in 0..quantity {
            serial += 1;
            let mut one = template.clone();
            one.meta.owner = owner;
            if batch {
                one.meta.name = format!("{name}-{serial}");
            }
            specs.push(one);
        }
    }
    Ok(specs)
}

/// The form as it is sent back to the browser: a password typed on this
/// step travels on as its hash (the password itself never goes back).
pub fn carried(form: &WizardForm) -> WizardForm {
    let mut out = form.clone();
    if !form.ssh_password.is_empty() {
        out.ssh_password_hash = match SshAccess::from_password(&form.ssh_password, &random_salt()) {
            Ok(SshAccess::PasswordHash(hash)) => hash,
            _ => String::new(),
        };
        out.ssh_password.clear();
    }
    out
}

/// The problems of a form so far (the wizard's Next checks them step by
/// step; Create checks them all again).
pub fn form_errors(form: &WizardForm, ctx: &WizardContext, actor: UserId) -> FieldErrors {
    build_specs(form, ctx, actor, &random_salt())
        .err()
        .unwrap_or_default()
}

impl Services {
    /// Everything the wizard shows for `project`, if `viewer` may create
    /// containers in it.
    pub async fn wizard_context(
        &self,
        viewer: &UserRecord,
        project: ProjectId,
    ) -> Result<WizardContext, ServiceError> {
        self.context_if(viewer, project, |role, membership| {
            permits_workload(role, membership, true, WorkloadAction::Create)
        })
        .await
    }

    /// What the job template form offers for `project` (its catalog and
    /// what is left), if `viewer` may see the project's templates: a member
    /// who may create, or anyone who may view others' workloads (an admin
    /// changing a template).
    pub async fn template_context(
        &self,
        viewer: &UserRecord,
        project: ProjectId,
    ) -> Result<WizardContext, ServiceError> {
        self.context_if(viewer, project, |role, membership| {
            permits_workload(role, membership, true, WorkloadAction::Create)
                || permits_workload(role, membership, false, WorkloadAction::View)
        })
        .await
    }

    async fn context_if(
        &self,
        viewer: &UserRecord,
        project: ProjectId,
        allowed: fn(Role, Option<ProjectRole>) -> bool,
    ) -> Result<WizardContext, ServiceError> {
        let viewer_record = viewer.clone();
        let now = self.clock.now();
        let mut ctx = self
            .blocking(move |store| {
                let viewer = viewer_record;
                let mut ctx = store.read(|tx| {
                    let p = live_project_read_tx(tx, project)?;
                    let role = role_of(&viewer);
                    let membership = p.role_of(viewer.id);
                    if !allowed(role, membership) {
                        return Err(if permits_project(role, membership, ProjectAction::View) {
                            ServiceError::Forbidden
                        } else {
                            ServiceError::NotFound
                        });
                    }
                    let may_batch = permits_project(role, membership, ProjectAction::Manage);
                    let mut members = Vec::new();
                    for m in &p.members {
                        if let Some(u) = users::get_read_tx(tx, m.user)? {
                            members.push((m.user, u.username.as_str().to_owned()));
                        }
                    }
                    let mut volume_names = Vec::new();
                    for v in volumes::of_project_read_tx(tx, p.id)? {
                        let mountable =
                            storage_mount(membership, v.spec.owner == viewer.id, v.permission)
                                .is_some();
                        if v.desired == VolumeDesired::Present && mountable {
                            volume_names.push(v.spec.name.clone());
                        }
                    }
                    volume_names.sort();
                    let settings = platform::get_read_tx(tx)?;
                    let accepted_at = platform::terms_acceptance_read_tx(tx, viewer.id)?
                        .filter(|a| a.terms_sha256 == terms_sha256(&settings.usage_terms))
                        .map(|a| a.accepted_at);
                    let held = holds::of_project_read_tx(tx, p.id)?;
                    let (project_use, member_use) = holds::totals(&held, Some(viewer.id));
                    let cap = p
                        .members
                        .iter()
                        .find(|m| m.user == viewer.id)
                        .map(|m| m.cap)
                        .unwrap_or_default();
                    let member_left = MemberCap {
                        gpu_milli: cap
                            .gpu_milli
                            .map(|c| c.saturating_sub(member_use.gpu_milli)),
                        cpu_milli: cap
                            .cpu_milli
                            .map(|c| c.saturating_sub(member_use.cpu_milli)),
                        ram_mib: cap.ram_mib.map(|c| c.saturating_sub(member_use.ram_mib)),
                    };
                    Ok(WizardContext {
                        availability: Availability {
                            project_left: p.quota.saturating_sub(project_use),
                            member_left,
                            capacity: None,
                        },
                        project: p,
                        may_batch,
                        members,
                        gpu_types: Vec::new(),
                        specs: Vec::new(),
                        images: Vec::new(),
                        custom_images: Vec::new(),
                        key_pairs: Vec::new(),
                        volumes: volume_names,
                        currency: settings.currency.clone(),
                        zone: TimeZone::get(&settings.time_zone).unwrap_or(TimeZone::UTC),
                        terms: settings.usage_terms,
                        accepted_at,
                        now,
                    })
                })?;
                let mut gpu_types: Vec<GpuTypeRecord> = catalog::list(store)?;
                gpu_types.retain(|g| !g.retired);
                gpu_types.sort_by_cached_key(|g| g.name.to_lowercase());
                let mut specs: Vec<HardwareSpecRecord> = catalog::list(store)?;
                specs.retain(|s| !s.retired);
                specs.sort_by_key(|s| (s.gpu_type.is_some(), s.cpu_milli, s.ram_mib));
                let mut images: Vec<ImageRecord> = catalog::list(store)?;
                images.retain(|i| !i.retired);
                images.sort_by_cached_key(|i| i.name.to_lowercase());
                ctx.gpu_types = gpu_types;
                ctx.specs = specs;
                ctx.images = images;
                Ok(ctx)
            })
            .await?;
        // Custom images are their project members' (an admin outside the
        // project has none to use).
        if ctx.project.role_of(viewer.id).is_some() {
            ctx.custom_images = self.usable_custom_images(viewer, project).await?;
        }
        ctx.key_pairs = self.key_pairs(viewer.id).await?;
        ctx.availability.capacity = self.capacity_now().await;
        Ok(ctx)
    }

    /// What the cluster has now, within the request timeout; None when
    /// there is no driver or it did not answer.
    async fn capacity_now(&self) -> Option<Capacity> {
        let cluster = self.cluster.as_ref()?;
        match tokio::time::timeout(cluster.request_timeout, cluster.driver.capacity()).await {
            Ok(Ok(capacity)) => Some(capacity),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the driver's capacity is unknown");
                None
            }
            Err(_) => None,
        }
    }

    /// Creates what the wizard's form asks for in `project`: one container
    /// of the viewer's, or a manager's batch (all or nothing). Accepting
    /// the terms is recorded first. Nothing is created on any error.
    pub async fn create_from_wizard(
        &self,
        actor: &UserRecord,
        project: ProjectId,
        form: &WizardForm,
    ) -> Result<Vec<WorkloadId>, WizardError> {
        let ctx = self.wizard_context(actor, project).await?;
        let specs =
            build_specs(form, &ctx, actor.id, &random_salt()).map_err(WizardError::Invalid)?;
        if let (Some(capacity), Some(first)) = (&ctx.availability.capacity, specs.first()) {
            let gpu = ctx.gpu_type(form.gpu_type.trim());
            let count = u64::try_from(specs.len()).unwrap_or(u64::MAX);
            if let Some(missing) = shortfall(capacity, &first.resources, gpu, count) {
                return Err(WizardError::Capacity(missing));
            }
        }
        if ctx.accepted_at.is_none() {
            self.accept_terms(actor, &form.accept_terms).await?;
        }
        let batch = specs.len() > 1 || specs.iter().any(|s| s.meta.owner != actor.id);
        if batch {
            if let Some(over) = self.member_over_cap(project, &specs).await? {
                return Err(over);
            }
            Ok(self.create_container_batch(actor, specs).await?)
        } else {
            let mut ids = Vec::new();
            for spec in specs {
                ids.push(self.create_container(actor, spec).await?);
            }
            Ok(ids)
        }
    }

    /// The first member of a batch whose containers do not fit their cap,
    /// named in the refusal (the batch's transaction checks again; this only
    /// says whose cap it is).
    async fn member_over_cap(
        &self,
        project: ProjectId,
        specs: &[ContainerSpec],
    ) -> Result<Option<WizardError>, ServiceError> {
        let mut asked: Vec<(UserId, Amounts)> = Vec::new();
        for spec in specs {
            let one = Amounts {
                gpu_milli: spec.resources.gpu.as_ref().map_or(0, |g| g.units_milli),
                cpu_milli: spec.resources.cpu_milli,
                ram_mib: spec.resources.ram_mib,
                storage_gib: 0,
            };
            match asked
                .iter_mut()
                .find(|(owner, _)| *owner == spec.meta.owner)
            {
                Some((_, total)) => *total = total.checked_add(one).unwrap_or(*total),
                None => asked.push((spec.meta.owner, one)),
            }
        }
        self.blocking(move |store| {
            store.read(|tx| {
                let p = live_project_read_tx(tx, project)?;
                let held = holds::of_project_read_tx(tx, project)?;
                for (owner, request) in asked.iter().cloned() {
                    let Some(member) = p.members.iter().find(|m| m.user == owner) else {
                        continue;
                    };
                    let (project_use, member_use) = holds::totals(&held, Some(owner));
                    let unlimited = Amounts {
                        gpu_milli: u64::MAX,
                        cpu_milli: u64::MAX,
                        ram_mib: u64::MAX,
                        storage_gib: u64::MAX,
                    };
                    let refused = matches!(
                        check_fits(unlimited, Amounts::ZERO, member.cap, member_use, request),
                        Err(QuotaRefusal::Member { .. })
                    );
                    if refused {
                        let left = left_to_member(
                            p.quota.saturating_sub(project_use),
                            member.cap,
                            member_use,
                        );
                        let name = users::get_read_tx(tx, owner)?
                            .map(|u| u.username.as_str().to_owned())
                            .unwrap_or_default();
                        return Ok(Some(WizardError::MemberCap {
                            member: name,
                            left,
                            project: p.name.clone(),
                        }));
                    }
                }
                Ok(None)
            })
        })
        .await
    }

    /// Records that `user` accepted the terms whose SHA-256 is `shown`
    /// (the text they were shown); refused when the terms changed meanwhile.
    async fn accept_terms(&self, user: &UserRecord, shown: &str) -> Result<(), ServiceError> {
        let user = user.id;
        let shown = shown.to_owned();
        let now = self.clock.now();
        self.blocking(move |store| {
            store.write(|tx| {
                let current = terms_sha256(&platform::get_tx(tx)?.usage_terms);
                if current != shown {
                    return Err(ServiceError::Invalid(FieldErrors::single(
                        "accept_terms",
                        "wizard.error.terms_changed",
                    )));
                }
                platform::put_terms_acceptance_tx(
                    tx,
                    &TermsAcceptanceRecord {
                        user,
                        terms_sha256: current,
                        accepted_at: now,
                    },
                )?;
                Ok(())
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wizard_names_are_short_lowercase_letters_and_digits() {
        for good in ["a", "notebook1", &"a".repeat(40)] {
            assert!(is_wizard_name(good), "{good}");
        }
        for bad in ["", "1a", "a-b", "Ab", "a_b", &"a".repeat(41), "ä"] {
            assert!(!is_wizard_name(bad), "{bad}");
        }
    }

    #[test]
    fn public_keys_are_one_openssh_line() {
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBx2mGHcWwGm7M9T1O6kq2s3HJr0pU0PzGzS0qA4n6Ck me@lab";
        assert!(is_public_key(key));
        assert!(!is_public_key("ssh-ed25519"));
        assert!(!is_public_key("ssh-dss AAAAB3NzaC1kc3MAAACBAP"));
        assert!(!is_public_key(&format!("{key}\nssh-rsa AAAA")));
        assert!(!is_public_key("ssh-rsa not*base64*at*all"));
    }

    #[test]
    fn salts_are_sixteen_crypt_characters() {
        let a = random_salt();
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|b| CRYPT_SALT_CHARS.contains(&b)));
        assert_ne!(a, random_salt());
    }

    #[test]
    fn the_cluster_says_what_it_lacks() {
        use crate::cluster::{GpuCapacity, NodeCapacity};
        use crate::domain::catalog::Sharing;
        let capacity = Capacity {
            nodes: vec![NodeCapacity {
                name: "n1".into(),
                cpu_milli: 8000,
                ram_mib: 32_768,
            }],
            gpus: vec![GpuCapacity {
                type_name: "A100".into(),
                resource_name: "nvidia.com/gpu".into(),
                total: 4,
                free: 3,
            }],
        };
        let mut gpu_type = GpuTypeRecord::new(
            GpuTypeId::generate(),
            crate::domain::catalog::GpuType {
                name: "A100".into(),
                resource_name: "nvidia.com/gpu".into(),
                sharing: Sharing::Whole,
                node_selector: BTreeMap::new(),
                memory_gb: 80,
                allowed_counts: vec![1, 2],
                price_milli: None,
            },
        );
        let resources = |cpu_milli, ram_mib, count| Resources {
            cpu_milli,
            ram_mib,
            shm_mib: 0,
            gpu: Some(GpuRequest {
                resource_name: "nvidia.com/gpu".into(),
                type_name: "A100".into(),
                node_selector: BTreeMap::new(),
                count,
                units_milli: u64::from(count) * MILLI,
            }),
        };
        assert_eq!(
            shortfall(&capacity, &resources(1000, 1024, 1), Some(&gpu_type), 3),
            None
        );
        assert_eq!(
            shortfall(&capacity, &resources(1000, 1024, 2), Some(&gpu_type), 2),
            Some(Shortfall::Gpus {
                type_name: "A100".into(),
                asked: 4,
                free: 3
            })
        );
        assert_eq!(
            shortfall(&capacity, &resources(9000, 1024, 1), Some(&gpu_type), 1),
            Some(Shortfall::Node {
                cpu_milli: 9000,
                ram_mib: 1024,
                largest_cpu_milli: 8000,
                largest_ram_mib: 32_768
            })
        );
        // Shared types are counted in GB: left to the scheduler.
        gpu_type.sharing = Sharing::MemorySliced;
        assert_eq!(
            shortfall(&capacity, &resources(1000, 1024, 40), Some(&gpu_type), 1),
            None
        );
    }

    #[test]
    fn terms_hash_changes_with_the_text() {
        assert_eq!(terms_sha256("a").len(), 64);
        assert_ne!(terms_sha256("a"), terms_sha256("b"));
    }
}

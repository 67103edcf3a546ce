//! Job templates (manual §8.2) and job schedules (manual §5.5.2): their
//! forms turned into records, "Run job", the trigger preview, and the
//! schedule loop's step — due schedules fire through `create_job`.
//!
//! projects → schedules → workloads → guards, never back.

use std::collections::BTreeMap;

use jiff::{Timestamp, Zoned};

use super::containers::{
    NAME_MAX as WIZARD_NAME_MAX, SHM_MAX_PERCENT, SHM_MIN_MB, is_wizard_name, parse_local,
};
use super::guards::{live_project_read_tx, live_project_tx, role_of};
use super::workloads::{insert_workload_tx, require};
use super::{ServiceError, Services};
use crate::domain::authz::{WorkloadAction, permits_workload};
use crate::domain::ids::{
    GpuTypeId, HardwareSpecId, ImageId, JobScheduleId, JobTemplateId, ProjectId, UserId, WorkloadId,
};
use crate::domain::mail::MailKind;
use crate::domain::project::ProjectStatus;
use crate::domain::schedule::{self, Concurrency, PREVIEW_COUNT, Timing, Trigger, Window};
use crate::domain::validation::FieldErrors;
use crate::domain::workload::{
    GpuRequest, ImageRef, JOB_COMMAND_MAX, JobOrigin, JobSpec, Resources, WorkloadMeta,
};
use crate::i18n::Catalog;
use crate::notify;
use crate::store::catalog::{self, GpuTypeRecord, HardwareSpecRecord, ImageRecord};
use crate::store::job_schedules::{self, JobScheduleRecord, RunOutcome, ScheduleRun};
use crate::store::job_templates::{self, JobTemplateRecord};
use crate::store::users::{self, UserRecord};
use crate::store::workloads::WorkloadSpec;
use crate::store::{Store, StoreError, WriteTx, platform, projects, workloads};

/// How many due schedules one step of the loop handles.
pub const FIRE_BATCH: usize = 256;

/// The template form as posted: every value as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobTemplateForm {
    pub name: String,
    /// A GPU type id, empty for CPU only.
    pub gpu_type: String,
    pub gpu_count: String,
    pub spec: String,
    pub image: String,
    pub version: String,
    /// `NAME=value`, one a line.
    pub env: String,
    pub command: String,
    /// Empty: the runtime's default.
    pub shm_mb: String,
}

/// The schedule form as posted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobScheduleForm {
    pub name: String,
    pub description: String,
    /// A job template id of the project.
    pub template: String,
    /// IANA zone name.
    pub zone: String,
    /// `YYYY-MM-DDTHH:MM` in the zone.
    pub start: String,
    pub end: String,
    /// The 5-field cron expression (the form's fields write it).
    pub cron: String,
    /// `single` or `multi`.
    pub concurrency: String,
}

/// A preview's answer: the next trigger times in the zone (empty: the
/// window holds none).
#[derive(Debug, Clone)]
pub struct Preview {
    pub cron: String,
    pub times: Vec<Zoned>,
}

/// What one step of the loop did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FireReport {
    pub started: usize,
    pub skipped: usize,
    pub failed: usize,
}

pub(crate) fn parse_env(text: &str, errors: &mut FieldErrors) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                env.insert(name.trim().to_owned(), value.to_owned());
            }
            _ => {
                errors.add("env", "workload.error.env_name");
                break;
            }
        }
    }
    env
}

/// The catalog items a template names, looked up in the live catalog;
/// retired items count as gone.
struct Items {
    gpu_type: Option<GpuTypeRecord>,
    spec: HardwareSpecRecord,
    image: ImageRecord,
}

fn items(store: &Store, template: &JobTemplateRecord) -> Result<Option<Items>, StoreError> {
    let spec: Option<HardwareSpecRecord> = catalog::get(store, template.spec)?;
    let image: Option<ImageRecord> = catalog::get(store, template.image)?;
    let gpu_type: Option<GpuTypeRecord> = match template.gpu_type {
        Some(id) => match catalog::get(store, id)? {
            Some(g) => Some(g),
            None => return Ok(None),
        },
        None => None,
    };
    Ok(match (spec, image) {
        (Some(spec), Some(image))
            if !spec.retired
                && !image.retired
                && gpu_type.as_ref().is_none_or(|g| !g.retired)
                && image.versions.contains(&template.version) =>
        {
            Some(Items {
                gpu_type,
                spec,
                image,
            })
        }
        _ => None,
    })
}

/// The job a template runs, named `name`, owned by `owner`; None when a
/// catalog item is gone or retired. Its id is set by `create_job`.
fn job_spec(
    store: &Store,
    template: &JobTemplateRecord,
    owner: UserId,
    name: String,
    origin: JobOrigin,
) -> Result<Option<JobSpec>, StoreError> {
    let Some(items) = items(store, template)? else {
        return Ok(None);
    };
    let gpu = items.gpu_type.map(|g| GpuRequest {
        units_milli: g.units_milli(template.gpu_count),
        resource_name: g.resource_name,
        type_name: g.name,
        node_selector: g.node_selector,
        count: template.gpu_count,
    });
    Ok(Some(JobSpec {
        meta: WorkloadMeta {
            id: WorkloadId::generate(),
            project: template.project,
            owner,
            name,
        },
        image: ImageRef {
            name: items.image.name,
            tag: template.version.clone(),
        },
        command: template.command.clone(),
        env: template.env.clone(),
        resources: Resources {
            cpu_milli: items.spec.cpu_milli,
            ram_mib: items.spec.ram_mib,
            shm_mib: template.shm_mib,
            gpu,
        },
        volumes: Vec::new(),
        time_limit_secs: None,
        origin,
    }))
}

/// The job name of a template's or schedule's run: `<name>-<serial>`
/// within the workload name limit (the base is cut to fit).
pub fn run_name(base: &str, serial: u64) -> String {
    let suffix = format!("-{serial}");
    let keep = crate::domain::workload::NAME_MAX.saturating_sub(suffix.len());
    let base: String = base.chars().take(keep).collect();
    format!("{base}{suffix}")
}

/// The name "Run job" offers: the template's name and a serial, as one
/// job name (lowercase letters and digits) within the wizard's limit (the
/// name is cut to fit).
pub fn run_job_name(template: &str, serial: u64) -> String {
    let suffix = serial.to_string();
    let keep = WIZARD_NAME_MAX.saturating_sub(suffix.len());
    let base: String = template.chars().take(keep).collect();
    format!("{base}{suffix}")
}

/// The schedule's timing, from its stored fields.
fn timing_of(record: &JobScheduleRecord) -> Result<Timing, FieldErrors> {
    Ok(Timing {
        trigger: Trigger::parse(&record.cron)?,
        zone: schedule::zone(&record.zone)?,
        window: Window::new(record.start, record.end)?,
    })
}

/// Checks the template form against the catalog; every problem beside its
/// field.
fn template_from_form(
    store: &Store,
    form: &JobTemplateForm,
    record: &mut JobTemplateRecord,
) -> Result<(), ServiceError> {
    let mut errors = FieldErrors::new();
    let name = form.name.trim();
    if !is_wizard_name(name) {
        errors.add("name", "wizard.error.name");
    }
    let gpu_type = match form.gpu_type.trim() {
        "" => None,
        id => match id.parse::<GpuTypeId>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.add("gpu_type", "wizard.error.gpu_type");
                None
            }
        },
    };
    let gpu_count = match (gpu_type, form.gpu_count.trim()) {
        (None, _) => 0,
        (Some(_), count) => count.parse::<u32>().unwrap_or_else(|_| {
            errors.add("gpu_count", "workload.error.gpu");
            0
        }),
    };
    let spec = form.spec.trim().parse::<HardwareSpecId>().map_err(|_| {
        errors.add("spec", "wizard.error.spec");
    });
    let image = form.image.trim().parse::<ImageId>().map_err(|_| {
        errors.add("image", "wizard.error.image");
    });
    let command = form.command.replace("\r\n", "\n");
    if command.trim().is_empty() || command.len() > JOB_COMMAND_MAX || command.contains('\0') {
        errors.add("command", "schedule.error.command");
    }
    let env = parse_env(&form.env, &mut errors);
    let shm_mib = match form.shm_mb.trim() {
        "" => 0,
        mb => mb.parse::<u64>().unwrap_or_else(|_| {
            errors.add("shm_mb", "wizard.error.shm");
            0
        }),
    };
    let (Ok(spec), Ok(image)) = (spec, image) else {
        return Err(ServiceError::Invalid(errors));
    };
    record.name = name.to_owned();
    record.gpu_type = gpu_type;
    record.gpu_count = gpu_count;
    record.spec = spec;
    record.image = image;
    record.version = form.version.trim().to_owned();
    record.env = env;
    record.command = command;
    record.shm_mib = shm_mib;

    // The catalog: the same items the container wizard offers.
    match items(store, record)? {
        None => {
            let spec: Option<HardwareSpecRecord> = catalog::get(store, spec)?;
            let image: Option<ImageRecord> = catalog::get(store, image)?;
            if spec.as_ref().is_none_or(|s| s.retired) {
                errors.add("spec", "wizard.error.spec");
            }
            match image {
                Some(i) if i.retired => errors.add("image", "wizard.error.image"),
                Some(i) if !i.versions.contains(&record.version) => {
                    errors.add("version", "wizard.error.version");
                }
                Some(_) => {}
                None => errors.add("image", "wizard.error.image"),
            }
            if let Some(id) = gpu_type {
                let gpu: Option<GpuTypeRecord> = catalog::get(store, id)?;
                if gpu.is_none_or(|g| g.retired) {
                    errors.add("gpu_type", "wizard.error.gpu_type");
                }
            }
        }
        Some(items) => {
            if items.spec.gpu_type != record.gpu_type {
                errors.add("spec", "wizard.error.spec_gpu_type");
            }
            if let Some(g) = &items.gpu_type
                && !g.allowed_counts.contains(&gpu_count)
            {
                errors.add("gpu_count", "workload.error.gpu");
            }
            let max = items.spec.ram_mib * SHM_MAX_PERCENT / 100;
            if shm_mib != 0 && !(SHM_MIN_MB..=max).contains(&shm_mib) {
                errors.add("shm_mb", "wizard.error.shm");
            }
        }
    }
    // The job's own rules (environment names among them).
    if errors.is_empty()
        && let Some(spec) = job_spec(
            store,
            record,
            record.owner,
            record.name.clone(),
            JobOrigin::Immediately,
        )?
        && let Err(job_errors) = spec.validate()
    {
        for e in job_errors.iter() {
            errors.add(e.field, e.message);
        }
    }
    errors.into_result(()).map_err(ServiceError::Invalid)
}

/// Checks the schedule form; the template must be one of `project`'s.
fn schedule_from_form(
    tx: &crate::store::WriteTx,
    form: &JobScheduleForm,
    record: &mut JobScheduleRecord,
    now: Timestamp,
) -> Result<Timing, ServiceError> {
    let mut errors = FieldErrors::new();
    let name = form.name.trim();
    if !is_wizard_name(name) {
        errors.add("name", "wizard.error.name");
    }
    let description = form.description.trim();
    schedule::check_description(description, &mut errors);
    let template = form
        .template
        .trim()
        .parse::<JobTemplateId>()
        .ok()
        .map(|id| job_templates::get_tx(tx, id))
        .transpose()?
        .flatten()
        .filter(|t| t.project == record.project);
    if template.is_none() {
        errors.add("template", "schedule.error.template");
    }
    let parts = check_timing(&form.cron, &form.zone, &form.start, &form.end, &mut errors);
    let concurrency = Concurrency::from_code(form.concurrency.trim());
    if concurrency.is_none() {
        errors.add("concurrency", "wizard.error.choice");
    }
    let (Some(template), Some(timing), Some(concurrency)) = (template, parts, concurrency) else {
        return Err(ServiceError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    record.name = name.to_owned();
    record.description = description.to_owned();
    record.template = template.id;
    record.cron = timing.trigger.expression().to_owned();
    record.zone = form.zone.trim().to_owned();
    record.start = timing.window.start();
    record.end = timing.window.end();
    record.concurrency = concurrency;
    record.next_run = timing.next_at_or_after(now);
    record.updated_at = now;
    Ok(timing)
}

/// The trigger, zone and window as typed; problems beside their fields.
fn check_timing(
    cron: &str,
    zone: &str,
    start: &str,
    end: &str,
    errors: &mut FieldErrors,
) -> Option<Timing> {
    let trigger = Trigger::parse(cron).map_err(|e| {
        for e in e.iter() {
            errors.add(e.field, e.message);
        }
    });
    let zone = schedule::zone(zone.trim()).map_err(|e| {
        for e in e.iter() {
            errors.add(e.field, e.message);
        }
    });
    let zone = zone.ok()?;
    let start = parse_local(start, &zone);
    if start.is_none() {
        errors.add("start", "wizard.error.time");
    }
    let end = parse_local(end, &zone);
    if end.is_none() {
        errors.add("end", "wizard.error.time");
    }
    let window = Window::new(start?, end?).map_err(|e| {
        for e in e.iter() {
            errors.add(e.field, e.message);
        }
    });
    Some(Timing {
        trigger: trigger.ok()?,
        zone,
        window: window.ok()?,
    })
}

/// Members of the project may see its templates and schedules; a refusal
/// as for a workload.
fn require_member(
    user: &UserRecord,
    p: &crate::store::projects::ProjectRecord,
) -> Result<(), ServiceError> {
    if permits_workload(
        role_of(user),
        p.role_of(user.id),
        true,
        WorkloadAction::Create,
    ) || permits_workload(
        role_of(user),
        p.role_of(user.id),
        false,
        WorkloadAction::View,
    ) {
        Ok(())
    } else {
        Err(ServiceError::NotFound)
    }
}

/// Changing or deleting a template or schedule: its owner, a manager or an
/// admin. Other members see it, so they are told no rather than "not found".
fn require_operate(
    user: &UserRecord,
    p: &crate::store::projects::ProjectRecord,
    owner: UserId,
) -> Result<(), ServiceError> {
    require_member(user, p)?;
    require(user, p, owner, WorkloadAction::Operate).map_err(|e| match e {
        ServiceError::NotFound => ServiceError::Forbidden,
        other => other,
    })
}

impl Services {
    /// The job templates of `project`.
    pub async fn job_templates(
        &self,
        viewer: &UserRecord,
        project: ProjectId,
    ) -> Result<Vec<JobTemplateRecord>, ServiceError> {
        let viewer = viewer.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let p = live_project_read_tx(tx, project)?;
                require_member(&viewer, &p)?;
                Ok(job_templates::of_project_read_tx(tx, project)?)
            })
        })
        .await
    }

    /// One job template.
    pub async fn job_template(
        &self,
        viewer: &UserRecord,
        id: JobTemplateId,
    ) -> Result<JobTemplateRecord, ServiceError> {
        let viewer = viewer.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let t = job_templates::get_read_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                let p = live_project_read_tx(tx, t.project)?;
                require_member(&viewer, &p)?;
                Ok(t)
            })
        })
        .await
    }

    /// Creates a job template in `project`, owned by `actor`.
    pub async fn create_job_template(
        &self,
        actor: &UserRecord,
        project: ProjectId,
        form: JobTemplateForm,
    ) -> Result<JobTemplateId, ServiceError> {
        let actor = actor.clone();
        let now = self.clock.now();
        self.blocking(move |store| {
            let mut record = JobTemplateRecord {
                id: JobTemplateId::generate(),
                project,
                owner: actor.id,
                name: String::new(),
                gpu_type: None,
                gpu_count: 0,
                spec: HardwareSpecId::from_u128(0),
                image: ImageId::from_u128(0),
                version: String::new(),
                env: BTreeMap::new(),
                command: String::new(),
                shm_mib: 0,
                created_at: now,
                updated_at: now,
            };
            store.read(|tx| {
                let p = live_project_read_tx(tx, project)?;
                require(&actor, &p, actor.id, WorkloadAction::Create)
            })?;
            template_from_form(store, &form, &mut record)?;
            store.write(|tx| {
                let p = live_project_tx(tx, project)?;
                require(&actor, &p, actor.id, WorkloadAction::Create)?;
                job_templates::insert_tx(tx, &record).map_err(name_taken)?;
                Ok(record.id)
            })
        })
        .await
    }

    /// Changes a job template (its owner, a manager or an admin).
    pub async fn update_job_template(
        &self,
        actor: &UserRecord,
        id: JobTemplateId,
        form: JobTemplateForm,
    ) -> Result<(), ServiceError> {
        let actor = actor.clone();
        let now = self.clock.now();
        self.blocking(move |store| {
            let mut record = store.read(|tx| {
                let t = job_templates::get_read_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                let p = live_project_read_tx(tx, t.project)?;
                require_operate(&actor, &p, t.owner)?;
                Ok::<_, ServiceError>(t)
            })?;
            template_from_form(store, &form, &mut record)?;
            record.updated_at = now;
            store.write(|tx| {
                let current = job_templates::get_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                let p = live_project_tx(tx, current.project)?;
                require_operate(&actor, &p, current.owner)?;
                job_templates::update_tx(tx, &record).map_err(name_taken)
            })
        })
        .await
    }

    /// Whether `actor` may change or delete job template `id` (its owner, a
    /// manager or an admin): Forbidden for other members.
    pub async fn may_change_job_template(
        &self,
        actor: &UserRecord,
        id: JobTemplateId,
    ) -> Result<(), ServiceError> {
        let actor = actor.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let t = job_templates::get_read_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                let p = live_project_read_tx(tx, t.project)?;
                require_operate(&actor, &p, t.owner)
            })
        })
        .await
    }

    /// Deletes a job template no schedule uses; else refuses, naming the
    /// schedule.
    pub async fn delete_job_template(
        &self,
        actor: &UserRecord,
        id: JobTemplateId,
    ) -> Result<(), ServiceError> {
        let actor = actor.clone();
        self.blocking(move |store| {
            store.write(|tx| {
                let t = job_templates::get_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                let p = live_project_tx(tx, t.project)?;
                require_operate(&actor, &p, t.owner)?;
                if let Some(s) = job_schedules::of_template_tx(tx, id)?.into_iter().next() {
                    return Err(ServiceError::InUse {
                        message: "schedule.error.template_in_use",
                        name: s.name,
                    });
                }
                job_templates::remove_tx(tx, id)?;
                Ok(())
            })
        })
        .await
    }

    /// "Run job": a job from the template, named `name` (the form offers
    /// [`Services::next_run_name`]), owned by `actor`.
    pub async fn run_job_template(
        &self,
        actor: &UserRecord,
        id: JobTemplateId,
        name: &str,
    ) -> Result<WorkloadId, ServiceError> {
        let template = self.job_template(actor, id).await?;
        let owner = actor.id;
        let name = name.trim().to_owned();
        if !is_wizard_name(&name) {
            return Err(ServiceError::Invalid(FieldErrors::single(
                "name",
                "wizard.error.name",
            )));
        }
        let spec = self
            .blocking(move |store| {
                Ok(job_spec(
                    store,
                    &template,
                    owner,
                    name,
                    JobOrigin::Immediately,
                )?)
            })
            .await?
            .ok_or(ServiceError::Refused("schedule.run.catalog_retired"))?;
        self.create_job(actor, spec).await
    }

    /// The name "Run job" offers: the template's name and the first serial
    /// not taken in the project, within the name limit.
    pub async fn next_run_name(
        &self,
        viewer: &UserRecord,
        id: JobTemplateId,
    ) -> Result<String, ServiceError> {
        let template = self.job_template(viewer, id).await?;
        self.blocking(move |store| {
            store.read(|tx| {
                let taken: Vec<String> = workloads::of_project_read_tx(tx, template.project)?
                    .into_iter()
                    .filter_map(|w| w.spec.name().map(str::to_owned))
                    .collect();
                let mut serial = 1;
                loop {
                    let name = run_job_name(&template.name, serial);
                    if !taken.contains(&name) {
                        return Ok(name);
                    }
                    serial += 1;
                }
            })
        })
        .await
    }

    /// The job schedules of `project`.
    pub async fn job_schedules(
        &self,
        viewer: &UserRecord,
        project: ProjectId,
    ) -> Result<Vec<JobScheduleRecord>, ServiceError> {
        // The job list reads this on every request: inline, as its page.
        self.store.read(|tx| {
            let p = live_project_read_tx(tx, project)?;
            require_member(viewer, &p)?;
            Ok(job_schedules::of_project_read_tx(tx, project)?)
        })
    }

    /// One job schedule, with its history.
    pub async fn job_schedule(
        &self,
        viewer: &UserRecord,
        id: JobScheduleId,
    ) -> Result<JobScheduleRecord, ServiceError> {
        let viewer = viewer.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let s = job_schedules::get_read_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                let p = live_project_read_tx(tx, s.project)?;
                require_member(&viewer, &p)?;
                Ok(s)
            })
        })
        .await
    }

    /// Creates a job schedule in `project`, owned by `actor`; its runs are
    /// `actor`'s jobs. A window without a trigger is saved (the preview
    /// says so).
    pub async fn create_job_schedule(
        &self,
        actor: &UserRecord,
        project: ProjectId,
        form: JobScheduleForm,
    ) -> Result<JobScheduleId, ServiceError> {
        let actor = actor.clone();
        let now = self.clock.now();
        self.blocking(move |store| {
            store.write(|tx| {
                let p = live_project_tx(tx, project)?;
                require(&actor, &p, actor.id, WorkloadAction::Create)?;
                let mut record = JobScheduleRecord {
                    id: JobScheduleId::generate(),
                    project,
                    owner: actor.id,
                    name: String::new(),
                    description: String::new(),
                    template: JobTemplateId::from_u128(0),
                    cron: String::new(),
                    zone: String::new(),
                    start: now,
                    end: now,
                    concurrency: Concurrency::Single,
                    next_run: None,
                    runs: 0,
                    last_job: None,
                    history: Vec::new(),
                    created_at: now,
                    updated_at: now,
                };
                schedule_from_form(tx, &form, &mut record, now)?;
                job_schedules::insert_tx(tx, &record).map_err(name_taken)?;
                Ok(record.id)
            })
        })
        .await
    }

    /// Changes a job schedule; its next run is computed anew from now.
    pub async fn update_job_schedule(
        &self,
        actor: &UserRecord,
        id: JobScheduleId,
        form: JobScheduleForm,
    ) -> Result<(), ServiceError> {
        let actor = actor.clone();
        let now = self.clock.now();
        self.blocking(move |store| {
            store.write(|tx| {
                let mut record = job_schedules::get_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                let p = live_project_tx(tx, record.project)?;
                require_operate(&actor, &p, record.owner)?;
                schedule_from_form(tx, &form, &mut record, now)?;
                job_schedules::update_tx(tx, &record).map_err(name_taken)
            })
        })
        .await
    }

    /// Whether `actor` may change or delete the schedule (its owner, a
    /// manager or an admin): the edit form asks before it is shown.
    pub async fn may_change_job_schedule(
        &self,
        actor: &UserRecord,
        id: JobScheduleId,
    ) -> Result<(), ServiceError> {
        let actor = actor.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let record = job_schedules::get_read_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                let p = live_project_read_tx(tx, record.project)?;
                require_operate(&actor, &p, record.owner)
            })
        })
        .await
    }

    /// Deletes a job schedule: it never fires again (its jobs stay).
    pub async fn delete_job_schedule(
        &self,
        actor: &UserRecord,
        id: JobScheduleId,
    ) -> Result<(), ServiceError> {
        let actor = actor.clone();
        self.blocking(move |store| {
            store.write(|tx| {
                let record = job_schedules::get_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                let p = live_project_tx(tx, record.project)?;
                require_operate(&actor, &p, record.owner)?;
                job_schedules::remove_tx(tx, id)?;
                Ok(())
            })
        })
        .await
    }

    /// The next trigger times from now for a cron expression, zone and
    /// window as typed (the schedule form's live preview). An empty list:
    /// the window holds no trigger.
    pub fn schedule_preview(
        &self,
        cron: &str,
        zone: &str,
        start: &str,
        end: &str,
    ) -> Result<Preview, FieldErrors> {
        let mut errors = FieldErrors::new();
        let timing = check_timing(cron, zone, start, end, &mut errors);
        let Some(timing) = timing.filter(|_| errors.is_empty()) else {
            return Err(errors);
        };
        Ok(Preview {
            cron: timing.trigger.expression().to_owned(),
            times: timing.preview(self.clock.now(), PREVIEW_COUNT),
        })
    }

    /// Now by the services' clock: where a new schedule's window starts.
    pub fn schedule_now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The platform's time zone name: a new schedule's default zone.
    pub async fn default_schedule_zone(&self) -> Result<String, ServiceError> {
        self.blocking(|store| Ok(store.read(platform::get_read_tx)?.time_zone))
            .await
    }

    /// At start: every schedule's next run listed again from its record.
    /// A next run still to come is computed anew (the zone rules may have
    /// changed with this binary); one already past stays, so that the loop
    /// runs it once, late.
    pub async fn rebuild_schedules(&self) -> Result<usize, ServiceError> {
        let now = self.clock.now();
        self.blocking(move |store| {
            store.write(|tx| {
                job_schedules::clear_due_tx(tx)?;
                let all = job_schedules::all_tx(tx)?;
                for mut record in all.iter().cloned() {
                    if record.next_run.is_none_or(|next| next > now) {
                        record.next_run = timing_of(&record)
                            .ok()
                            .and_then(|t| t.next_at_or_after(now));
                    }
                    job_schedules::set_due_tx(tx, &record)?;
                }
                Ok(all.len())
            })
        })
        .await
    }

    /// When the next schedule falls due, if any does.
    pub async fn next_schedule_due(&self) -> Result<Option<Timestamp>, ServiceError> {
        self.blocking(|store| Ok(store.read(job_schedules::next_due_read_tx)?))
            .await
    }

    /// The schedule loop's step: every schedule due by now fires once —
    /// a job (origin: the schedule), a skip (single thread, previous run
    /// not ended), a pause (buffer period) or a recorded failure — and
    /// gets its next run. Up to `FIRE_BATCH` schedules fire in one
    /// transaction (their next runs, their jobs with the jobs' holds, and
    /// the outcomes), so a crash fires none of them twice and none is lost,
    /// and a thousand triggers of one minute cost a handful of commits.
    pub async fn fire_due_schedules(&self) -> Result<FireReport, ServiceError> {
        let now = self.clock.now();
        // What each firing schedule would run, read before the write: the
        // template's job built from the catalog, like a person's run.
        let prepared = self
            .blocking(move |store| {
                let due = store.read(|tx| job_schedules::due_read_tx(tx, now, FIRE_BATCH))?;
                due.into_iter()
                    .map(|record| Ok((record.id, prepare_run(store, &record)?)))
                    .collect::<Result<Vec<_>, ServiceError>>()
            })
            .await?;
        if prepared.is_empty() {
            return Ok(FireReport::default());
        }
        let i18n = self.catalog.clone();
        let report = self
            .blocking(move |store| {
                store.write(|tx| {
                    let mut report = FireReport::default();
                    for (id, run) in prepared {
                        match fire_tx(tx, &i18n, id, run, now)? {
                            Some(RunOutcome::Started { .. }) => report.started += 1,
                            Some(RunOutcome::Failed { .. }) => report.failed += 1,
                            Some(_) => report.skipped += 1,
                            None => {}
                        }
                    }
                    Ok::<_, ServiceError>(report)
                })
            })
            .await?;
        if report.started > 0 {
            self.wake_reconciler();
        }
        Ok(report)
    }
}

/// The job a due schedule's next run would start (named for its next
/// serial), or why it cannot start.
type PreparedRun = Result<(JobSpec, UserRecord), &'static str>;

fn prepare_run(store: &Store, record: &JobScheduleRecord) -> Result<PreparedRun, StoreError> {
    let Some(template) = store.read(|tx| job_templates::get_read_tx(tx, record.template))? else {
        return Ok(Err("schedule.run.template_gone"));
    };
    let Some(owner) = store.read(|tx| users::get_read_tx(tx, record.owner))? else {
        return Ok(Err("schedule.run.owner_gone"));
    };
    let origin = JobOrigin::Schedule {
        schedule: record.id,
        name: record.name.clone(),
    };
    let name = run_name(&record.name, record.runs + 1);
    Ok(match job_spec(store, &template, owner.id, name, origin)? {
        Some(spec) => Ok((spec, owner)),
        None => Err("schedule.run.catalog_retired"),
    })
}

/// Fires schedule `id` if its run is still due: its next run moves on, and
/// the run is held (buffer period, single thread), started as a job
/// through the same checks as a person's job, or recorded as failed (its
/// owner is mailed). None when there was nothing to fire.
fn fire_tx(
    tx: &WriteTx,
    i18n: &Catalog,
    id: JobScheduleId,
    prepared: PreparedRun,
    now: Timestamp,
) -> Result<Option<RunOutcome>, ServiceError> {
    let Some(mut record) = job_schedules::get_tx(tx, id)? else {
        return Ok(None);
    };
    let Some(due) = record.next_run.filter(|due| *due <= now) else {
        return Ok(None);
    };
    let Ok(timing) = timing_of(&record) else {
        record.next_run = None;
        job_schedules::update_tx(tx, &record)?;
        return Ok(None);
    };
    let firing = timing.fire(due, now);
    record.next_run = firing.next;
    let Some(run) = firing.run else {
        job_schedules::update_tx(tx, &record)?;
        return Ok(None);
    };
    let project = projects::get_tx(tx, record.project)?;
    let paused = project
        .as_ref()
        .is_some_and(|p| p.status == ProjectStatus::BufferPeriod);
    let previous = match (record.concurrency, record.last_job) {
        (Concurrency::Single, Some(job)) => workloads::get_tx(tx, job)?
            .filter(|w| !w.status().is_terminal())
            .map(|_| job),
        _ => None,
    };
    let outcome = if paused {
        RunOutcome::Paused
    } else if let Some(previous) = previous {
        RunOutcome::Skipped { previous }
    } else {
        record.runs += 1;
        let started = prepared
            .map_err(str::to_owned)
            .and_then(|(mut spec, owner)| {
                spec.meta.name = run_name(&record.name, record.runs);
                start_job_tx(tx, &owner, spec, now).map_err(|e| reason_of(&e))
            });
        match started {
            Ok(job) => {
                record.last_job = Some(job);
                RunOutcome::Started {
                    job,
                    late: run.late,
                }
            }
            Err(reason) => {
                tracing::info!(schedule = %id, reason = %reason, "a scheduled run failed");
                mail_failure_tx(tx, i18n, &record, &reason, now)?;
                RunOutcome::Failed { reason }
            }
        }
    };
    record.push_history(ScheduleRun {
        scheduled: run.scheduled,
        at: now,
        outcome: outcome.clone(),
    });
    job_schedules::update_tx(tx, &record)?;
    Ok(Some(outcome))
}

/// Starts (or queues) `spec` as `owner`'s job with the checks `create_job`
/// makes, every one before anything is written, so a refusal leaves the
/// transaction as it was.
fn start_job_tx(
    tx: &WriteTx,
    owner: &UserRecord,
    mut spec: JobSpec,
    now: Timestamp,
) -> Result<WorkloadId, ServiceError> {
    let p = live_project_tx(tx, spec.meta.project)?;
    require(owner, &p, owner.id, WorkloadAction::Create)?;
    spec.meta.id = WorkloadId::generate();
    spec.meta.owner = owner.id;
    spec.validate().map_err(ServiceError::Invalid)?;
    if workloads::name_taken_tx(tx, p.id, &spec.meta.name)? {
        return Err(ServiceError::Invalid(FieldErrors::single(
            "name",
            "workload.error.name_taken",
        )));
    }
    let id = spec.meta.id;
    insert_workload_tx(tx, owner, &p, WorkloadSpec::Job(spec), now)?;
    Ok(id)
}

/// Tells a schedule's owner that a run could not start (as their
/// notification switches say).
fn mail_failure_tx(
    tx: &WriteTx,
    i18n: &Catalog,
    record: &JobScheduleRecord,
    reason: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let project = projects::get_tx(tx, record.project)?
        .map(|p| p.name)
        .unwrap_or_default();
    if let Some(owner) = users::get_tx(tx, record.owner)? {
        super::mail::enqueue_tx(tx, i18n, &owner, MailKind::ScheduleFailed, now, |tr| {
            notify::schedule_failed(tr, &project, &record.name, tr.t(reason))
        })?;
    }
    Ok(())
}

/// The translation key (or short cause) of a run that could not start.
fn reason_of(e: &ServiceError) -> String {
    match e {
        ServiceError::Refused(key) => (*key).to_owned(),
        ServiceError::OverQuota { member: false, .. } => "schedule.run.over_quota".to_owned(),
        ServiceError::OverQuota { member: true, .. } => "schedule.run.over_cap".to_owned(),
        ServiceError::Invalid(errors) => errors
            .iter()
            .next()
            .map_or("schedule.run.invalid_job", |e| e.message)
            .to_owned(),
        ServiceError::NotFound | ServiceError::Forbidden => "schedule.run.not_allowed".to_owned(),
        _ => "schedule.run.internal".to_owned(),
    }
}

/// A name conflict of the store as the form's error.
fn name_taken(e: StoreError) -> ServiceError {
    match e {
        StoreError::Conflict(_) => {
            ServiceError::Invalid(FieldErrors::single("name", "workload.error.name_taken"))
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_fit_the_workload_name_limit() {
        assert_eq!(run_name("nightly", 3), "nightly-3");
        let long = "a".repeat(63);
        let name = run_name(&long, 12);
        assert_eq!(name.len(), crate::domain::workload::NAME_MAX);
        assert!(name.ends_with("-12"));
        assert!(crate::domain::workload::is_workload_name(&name));
    }

    #[test]
    fn run_job_names_are_letters_and_digits_within_the_limit() {
        assert_eq!(run_job_name("hello", 1), "hello1");
        let name = run_job_name(&"a".repeat(40), 123);
        assert_eq!(name.len(), WIZARD_NAME_MAX);
        assert!(name.ends_with("123"));
        assert!(is_wizard_name(&name));
    }

    #[test]
    fn environment_lines_are_read() {
        let mut errors = FieldErrors::new();
        let env = parse_env("A=1\n\n B = two=2 \r\n", &mut errors);
        assert!(errors.is_empty());
        assert_eq!(env.get("A").map(String::as_str), Some("1"));
        assert_eq!(env.get("B").map(String::as_str), Some(" two=2"));
        parse_env("novalue", &mut errors);
        assert_eq!(errors.get("env"), Some("workload.error.env_name"));
    }
}

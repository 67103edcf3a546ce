//! The job create wizard (manual §5.5: Create Job, Advanced Settings,
//! Schedule): the container wizard's parts (GPU type and count, hardware
//! spec, public or custom image, shared memory, volumes — checked by the
//! same functions, from catalog ids only) plus the command, its
//! environment and an optional time limit. A job is created through
//! `create_job`: one that does not fit now waits in the project's queue.
//! "Save as template" and "Run job" turn the form into a template's and
//! back.

use std::collections::BTreeMap;

use super::containers::{
    WizardContext, WizardForm, check_hardware, check_image, check_mounts, check_shm, is_wizard_name,
};
use super::schedules::{JobTemplateForm, parse_env};
use super::{ServiceError, Services};
use crate::domain::authz::WorkloadAction;
use crate::domain::ids::{JobTemplateId, ProjectId, UserId};
use crate::domain::validation::FieldErrors;
use crate::domain::workload::{
    JOB_COMMAND_MAX, JobOrigin, JobSpec, Resources, WorkloadId, WorkloadMeta,
};
use crate::store::catalog::{self, GpuTypeRecord, HardwareSpecRecord, ImageRecord};
use crate::store::job_templates::JobTemplateRecord;
use crate::store::users::UserRecord;
use crate::store::workloads::WorkloadSpec;

/// Longest time limit, in minutes (a year).
pub const TIME_LIMIT_MAX_MINUTES: u64 = 525_600;

/// The job wizard's form as posted: every value as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobForm {
    /// What the container wizard shares: name, GPU type and count, spec,
    /// image, shared memory, volumes.
    pub wizard: WizardForm,
    /// Run by `sh -c`; several lines.
    pub command: String,
    /// `NAME=value`, one a line.
    pub env: String,
    /// Minutes; empty: no limit.
    pub time_limit: String,
}

/// The job a form asks for, or every problem beside its field. Its id and
/// owner are set again by `create_job`.
pub fn build_job(
    form: &JobForm,
    ctx: &WizardContext,
    actor: UserId,
) -> Result<JobSpec, FieldErrors> {
    let mut errors = FieldErrors::new();
    let name = form.wizard.name.trim();
    if !is_wizard_name(name) {
        errors.add("name", "wizard.error.name");
    }
    let (_, gpu, spec) = check_hardware(&form.wizard, ctx, &mut errors);
    let image = check_image(&form.wizard, ctx, &mut errors);
    let command = form.command.replace("\r\n", "\n");
    if command.trim().is_empty() || command.len() > JOB_COMMAND_MAX || command.contains('\0') {
        errors.add("command", "schedule.error.command");
    }
    let env = parse_env(&form.env, &mut errors);
    let time_limit_secs = match form.time_limit.trim() {
        "" => None,
        minutes => match minutes.parse::<u64>() {
            Ok(m) if (1..=TIME_LIMIT_MAX_MINUTES).contains(&m) => Some(m * 60),
            _ => {
                errors.add("time_limit", "job.error.time_limit");
                None
            }
        },
    };
    let shm_mib = check_shm(&form.wizard, spec, &mut errors);
    let volumes = check_mounts(&form.wizard, ctx, &mut errors);
    let (Some(spec), Some((image, _, _))) = (spec, image) else {
        return Err(errors);
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let job = JobSpec {
        meta: WorkloadMeta {
            id: WorkloadId::generate(),
            project: ctx.project.id,
            owner: actor,
            name: name.to_owned(),
        },
        image,
        command,
        env,
        resources: Resources {
            cpu_milli: spec.cpu_milli,
            ram_mib: spec.ram_mib,
            shm_mib,
            gpu,
        },
        volumes,
        time_limit_secs,
        origin: JobOrigin::Immediately,
    };
    job.validate()?;
    Ok(job)
}

/// The problems of a form so far (Next checks them step by step).
pub fn job_errors(form: &JobForm, ctx: &WizardContext, actor: UserId) -> FieldErrors {
    build_job(form, ctx, actor).err().unwrap_or_default()
}

impl JobForm {
    /// "Save as template": what a template keeps of the form (a template
    /// runs a public image of the catalog, without volumes or time limit).
    /// A custom image is refused beside the image.
    pub fn template_form(&self) -> Result<JobTemplateForm, FieldErrors> {
        if self.wizard.image_source == "custom" {
            return Err(FieldErrors::single(
                "image",
                "job.error.template_custom_image",
            ));
        }
        Ok(JobTemplateForm {
            name: self.wizard.name.trim().to_owned(),
            gpu_type: self.wizard.gpu_type.clone(),
            gpu_count: self.wizard.gpu_count.clone(),
            spec: self.wizard.spec.clone(),
            image: self.wizard.image.clone(),
            version: self.wizard.version.clone(),
            env: self.env.clone(),
            command: self.command.clone(),
            shm_mb: if self.wizard.shm {
                self.wizard.shm_mb.clone()
            } else {
                String::new()
            },
        })
    }

    /// "Run job": the job form filled from a template, named `name`.
    pub fn from_template(template: &JobTemplateRecord, name: String) -> JobForm {
        JobForm {
            wizard: WizardForm {
                name,
                gpu_type: template.gpu_type.map(|g| g.to_string()).unwrap_or_default(),
                gpu_count: template.gpu_count.to_string(),
                spec: template.spec.to_string(),
                image: template.image.to_string(),
                version: template.version.clone(),
                shm: template.shm_mib > 0,
                shm_mb: if template.shm_mib > 0 {
                    template.shm_mib.to_string()
                } else {
                    "64".into()
                },
                ..WizardForm::default()
            },
            command: template.command.clone(),
            env: env_text(&template.env),
            time_limit: String::new(),
        }
    }
}

/// An environment as the form writes it: `NAME=value`, one a line.
pub fn env_text(env: &BTreeMap<String, String>) -> String {
    env.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The template form of an existing job: its catalog items found again by
/// name and size (left empty, to choose, where the catalog no longer has
/// them).
fn template_form_of(
    job: &JobSpec,
    gpu_types: &[GpuTypeRecord],
    specs: &[HardwareSpecRecord],
    images: &[ImageRecord],
) -> JobTemplateForm {
    let gpu_type = job.resources.gpu.as_ref().and_then(|g| {
        gpu_types
            .iter()
            .find(|t| !t.retired && t.name == g.type_name)
    });
    let spec = specs.iter().find(|s| {
        !s.retired
            && s.cpu_milli == job.resources.cpu_milli
            && s.ram_mib == job.resources.ram_mib
            && s.gpu_type == gpu_type.map(|g| g.id)
    });
    let image = images
        .iter()
        .find(|i| !i.retired && i.name == job.image.name && i.versions.contains(&job.image.tag));
    JobTemplateForm {
        name: job.meta.name.clone(),
        gpu_type: gpu_type.map(|g| g.id.to_string()).unwrap_or_default(),
        gpu_count: job
            .resources
            .gpu
            .as_ref()
            .map(|g| g.count.to_string())
            .unwrap_or_default(),
        spec: spec.map(|s| s.id.to_string()).unwrap_or_default(),
        image: image.map(|i| i.id.to_string()).unwrap_or_default(),
        version: image.map(|_| job.image.tag.clone()).unwrap_or_default(),
        env: env_text(&job.env),
        command: job.command.clone(),
        shm_mb: match job.resources.shm_mib {
            0 => String::new(),
            mb => mb.to_string(),
        },
    }
}

impl Services {
    /// Creates the job the wizard's form asks for in `project`, owned by
    /// `actor`; one that does not fit now is queued. Nothing is created on
    /// any error.
    pub async fn create_job_from_wizard(
        &self,
        actor: &UserRecord,
        project: ProjectId,
        form: &JobForm,
    ) -> Result<WorkloadId, ServiceError> {
        let ctx = self.wizard_context(actor, project).await?;
        let spec = build_job(form, &ctx, actor.id).map_err(ServiceError::Invalid)?;
        self.create_job(actor, spec).await
    }

    /// "Run job": the job form filled from template `id`, named with the
    /// first free serial.
    pub async fn run_job_form(
        &self,
        viewer: &UserRecord,
        id: JobTemplateId,
    ) -> Result<(JobTemplateRecord, JobForm), ServiceError> {
        let template = self.job_template(viewer, id).await?;
        let name = self.next_run_name(viewer, id).await?;
        let form = JobForm::from_template(&template, name);
        Ok((template, form))
    }

    /// "Save as template" from a job's page: the template form filled from
    /// the job `id` (which `viewer` may see).
    pub async fn template_form_of_job(
        &self,
        viewer: &UserRecord,
        id: WorkloadId,
    ) -> Result<JobTemplateForm, ServiceError> {
        let record = self.workload_for(viewer, id, WorkloadAction::View).await?;
        let WorkloadSpec::Job(job) = record.spec else {
            return Err(ServiceError::NotFound);
        };
        self.blocking(move |store| {
            let gpu_types: Vec<GpuTypeRecord> = catalog::list(store)?;
            let specs: Vec<HardwareSpecRecord> = catalog::list(store)?;
            let images: Vec<ImageRecord> = catalog::list(store)?;
            Ok(template_form_of(&job, &gpu_types, &specs, &images))
        })
        .await
    }
}

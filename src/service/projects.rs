//! Projects: applications and their review, members and caps, the project
//! selector, platform settings, Cloud Provisioning, and the lifecycle sweep.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::guards::{live_project_read_tx, live_project_tx, role_of};
use super::images::remove_project_images_tx;
use super::workloads::{
    project_spec, start_queued_tx, stop_member_workloads_tx, wind_down_project_tx,
};
use super::{ServiceError, Services};
use crate::cluster::ProjectSpec;
use crate::cluster::WorkloadKind;
use crate::domain::audit::AuditAction;
use crate::domain::authz::{ProjectAction, permits_project};
use crate::domain::ids::{ApplicationId, ProjectId, PurposeId, UserId};
use crate::domain::mail::MailKind;
use crate::domain::project::{
    self, ApplicationKind, ApplicationStatus, Membership, ProjectForm, ProjectRole, ProjectStatus,
};
use crate::domain::quota::{MemberCap, Resources};
use crate::domain::user::Lang;
use crate::domain::validation::FieldErrors;
use crate::i18n::Catalog;
use crate::notify::{self, Mail};
use crate::store::activations::{self, ActivationRecord, ActivationStatus};
use crate::store::holds;
use crate::store::outbox::{self, MailRecord};
use crate::store::platform::{self, PlatformSettingsRecord};
use crate::store::projects::{self, ApplicationRecord, ProjectRecord};
use crate::store::users::{self, UserRecord};
use crate::store::volumes;
use crate::store::workloads::{self, Desired};
use crate::store::{ReadTx, Store, StoreError, WriteTx};

/// A page of the mail outbox, newest first.
#[derive(Debug, Clone)]
pub struct OutboxPage {
    pub mails: Vec<MailRecord>,
    /// Every mail in the outbox.
    pub total: usize,
    /// The page shown, from 1 (the last when the one asked for is past it).
    pub page: usize,
}

/// A project as the lists show it.
#[derive(Debug, Clone)]
pub struct ProjectSummary {
    pub project: ProjectRecord,
    /// The viewer's role in it (None for an admin who is not a member).
    pub role: Option<ProjectRole>,
    /// What the project's workloads hold now.
    pub used: Resources,
    pub containers: usize,
    pub jobs: usize,
    /// An approved extension moved the end: the period it started.
    pub extended: bool,
}

/// An application with the names the review screens show.
#[derive(Debug, Clone)]
pub struct ApplicationView {
    pub application: ApplicationRecord,
    pub project_name: String,
    pub project_code: String,
    pub project_start: Date,
    pub project_end: Date,
    pub applicant: String,
}

/// What a lifecycle sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub reminders: usize,
    pub to_buffer: usize,
    pub released: usize,
}

/// The platform settings form.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct PlatformSettingsForm {
    pub buffer_days: String,
    pub reminder_days: String,
    pub currency: String,
    pub time_zone: String,
    pub usage_terms: String,
    /// The cap of a member's queued jobs per project (empty: none).
    pub queued_jobs_per_member: String,
}

/// The highest cap of queued jobs per member the settings accept.
pub const QUEUE_CAP_MAX: u32 = 100_000;

/// Longest usage terms, in characters.
pub const USAGE_TERMS_MAX: usize = 20_000;

impl PlatformSettingsForm {
    pub fn from_record(r: &PlatformSettingsRecord) -> Self {
        Self {
            buffer_days: r.buffer_days.to_string(),
            reminder_days: r
                .reminder_days
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            currency: r.currency.clone(),
            time_zone: r.time_zone.clone(),
            usage_terms: r.usage_terms.clone(),
            queued_jobs_per_member: r
                .queued_jobs_per_member
                .map(|n| n.to_string())
                .unwrap_or_default(),
        }
    }

    fn validate(&self) -> Result<PlatformSettingsRecord, FieldErrors> {
        let mut errors = FieldErrors::new();
        let buffer_days = match self.buffer_days.trim().parse::<u32>() {
            Ok(d) if d <= 365 => d,
            _ => {
                errors.add("buffer_days", "error.platform.buffer_days");
                0
            }
        };
        let mut reminder_days = Vec::new();
        for part in self
            .reminder_days
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match part.parse::<u32>() {
                Ok(d) if (1..=365).contains(&d) && !reminder_days.contains(&d) => {
                    reminder_days.push(d)
                }
                _ => {
                    errors.add("reminder_days", "error.platform.reminder_days");
                    break;
                }
            }
        }
        reminder_days.sort_unstable_by(|a, b| b.cmp(a));
        let currency = self.currency.trim().to_uppercase();
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            errors.add("currency", "error.platform.currency");
        }
        let time_zone = self.time_zone.trim().to_owned();
        if TimeZone::get(&time_zone).is_err() {
            errors.add("time_zone", "error.platform.time_zone");
        }
        // Empty terms are the default terms again.
        let usage_terms = match self.usage_terms.replace("\r\n", "\n").trim() {
            "" => crate::store::platform::DEFAULT_USAGE_TERMS.to_owned(),
            text => text.to_owned(),
        };
        if usage_terms.chars().count() > USAGE_TERMS_MAX
            || usage_terms
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            errors.add("usage_terms", "error.platform.usage_terms");
        }
        let queued_jobs_per_member = match self.queued_jobs_per_member.trim() {
            "" => None,
            text => match text.parse::<u32>() {
                Ok(n) if (1..=QUEUE_CAP_MAX).contains(&n) => Some(n),
                _ => {
                    errors.add("queued_jobs_per_member", "error.platform.queue_cap");
                    None
                }
            },
        };
        errors.into_result(PlatformSettingsRecord {
            buffer_days,
            reminder_days,
            currency,
            time_zone,
            usage_terms,
            queued_jobs_per_member,
        })
    }
}

/// The date on the platform's calendar at `now`.
fn date_in(settings: &PlatformSettingsRecord, now: Timestamp) -> Date {
    let tz = TimeZone::get(&settings.time_zone).unwrap_or(TimeZone::UTC);
    now.to_zoned(tz).date()
}

fn require(
    user: &UserRecord,
    project: &ProjectRecord,
    action: ProjectAction,
) -> Result<(), ServiceError> {
    if permits_project(role_of(user), project.role_of(user.id), action) {
        Ok(())
    } else if permits_project(role_of(user), project.role_of(user.id), ProjectAction::View) {
        Err(ServiceError::Forbidden)
    } else {
        Err(ServiceError::NotFound)
    }
}

/// A project as the lists show it: what its workloads hold, and how many
/// containers and jobs it has (those not being deleted), from its indexes.
fn summary_read_tx(
    tx: &ReadTx,
    project: ProjectRecord,
    viewer: UserId,
) -> Result<ProjectSummary, ServiceError> {
    let extended = projects::has_approved_extension_read_tx(tx, project.id)?;
    let (used, _) = holds::totals(&holds::of_project_read_tx(tx, project.id)?, None);
    let (mut containers, mut jobs) = (0, 0);
    for w in workloads::of_project_read_tx(tx, project.id)? {
        if w.desired == Desired::Deleted {
            continue;
        }
        match w.spec.kind() {
            WorkloadKind::Container => containers += 1,
            WorkloadKind::Job => jobs += 1,
            WorkloadKind::ImageCommit => {}
        }
    }
    Ok(ProjectSummary {
        role: project.role_of(viewer),
        project,
        used,
        containers,
        jobs,
        extended,
    })
}

fn kind_key(kind: &ApplicationKind) -> &'static str {
    match kind {
        ApplicationKind::Project => "application.kind.project",
        ApplicationKind::Extension { .. } => "application.kind.extension",
        ApplicationKind::Quota { .. } => "application.kind.quota",
    }
}

/// Records a mail of `kind` to `to` in the outbox, in the same transaction
/// (as their preferences say: `service/mail.rs::enqueue_tx`).
pub(crate) fn enqueue_tx(
    tx: &WriteTx,
    catalog: &Catalog,
    to: UserId,
    kind: MailKind,
    now: Timestamp,
    compose: impl FnOnce(crate::i18n::Tr) -> Mail,
) -> Result<(), StoreError> {
    match users::get_tx(tx, to)? {
        Some(user) => super::mail::enqueue_tx(tx, catalog, &user, kind, now, compose),
        None => Ok(()),
    }
}

/// Resolves usernames to enabled accounts; unknown names are a field error.
fn resolve_members(
    tx: &WriteTx,
    names: &[(String, ProjectRole)],
) -> Result<Vec<Membership>, ServiceError> {
    let mut members = Vec::new();
    for (name, role) in names {
        match users::get_by_username_tx(tx, name)? {
            Some(user) if !user.disabled => members.push(Membership {
                user: user.id,
                role: *role,
                cap: MemberCap::default(),
            }),
            _ => {
                return Err(ServiceError::Invalid(FieldErrors::single(
                    "members",
                    "error.project.unknown_member",
                )));
            }
        }
    }
    Ok(members)
}

/// Refuses a name that one of `members`' open projects already has.
fn check_unique_name(
    tx: &WriteTx,
    name: &str,
    members: &[Membership],
    except: Option<ProjectId>,
) -> Result<(), ServiceError> {
    let taken = projects::all_tx(tx)?.into_iter().any(|p| {
        Some(p.id) != except
            && !p.deleted
            && p.status.is_open()
            && p.name.to_lowercase() == name.to_lowercase()
            && p.members
                .iter()
                .any(|m| members.iter().any(|n| n.user == m.user))
    });
    if taken {
        return Err(ServiceError::Invalid(FieldErrors::single(
            "name",
            "error.project.name_taken",
        )));
    }
    Ok(())
}

impl Services {
    /// The purpose chosen in an application form. While the catalog has
    /// purposes one must be chosen, and it must not be retired.
    async fn resolve_purpose(&self, chosen: &str) -> Result<Option<PurposeId>, ServiceError> {
        let purposes = self.list_purposes(false).await?;
        if purposes.is_empty() {
            return Ok(None);
        }
        let chosen: Option<PurposeId> = chosen.trim().parse().ok();
        purposes
            .iter()
            .find(|p| Some(p.id) == chosen)
            .map(|p| Some(p.id))
            .ok_or_else(|| {
                ServiceError::Invalid(FieldErrors::single(
                    "purpose",
                    "error.project.purpose_required",
                ))
            })
    }

    pub async fn platform_settings(&self) -> Result<PlatformSettingsRecord, ServiceError> {
        self.blocking(|store| store.read(|tx| Ok(platform::get_read_tx(tx)?)))
            .await
    }

    pub async fn update_platform_settings(
        &self,
        form: &PlatformSettingsForm,
    ) -> Result<(), ServiceError> {
        let record = form.validate().map_err(ServiceError::Invalid)?;
        let stamp = self.audit_stamp();
        self.blocking(move |store| {
            store.write(|tx| {
                platform::put_tx(tx, &record)?;
                let target = format!(
                    "buffer {} days, reminders {:?}, {}, {}, queued jobs per member {:?}",
                    record.buffer_days,
                    record.reminder_days,
                    record.currency,
                    record.time_zone,
                    record.queued_jobs_per_member
                );
                stamp.record_tx(tx, AuditAction::SettingsChanged, target)?;
                Ok(())
            })
        })
        .await
    }

    /// Today on the platform's calendar.
    /// The platform's time zone (Admin › Platform settings), in which pages
    /// show dates and times.
    pub async fn time_zone(&self) -> Result<TimeZone, ServiceError> {
        let settings = self.platform_settings().await?;
        Ok(TimeZone::get(&settings.time_zone).unwrap_or(TimeZone::UTC))
    }

    pub async fn today(&self) -> Result<Date, ServiceError> {
        let settings = self.platform_settings().await?;
        Ok(date_in(&settings, self.clock.now()))
    }

    /// Files a project application: a project in Reviewing plus its
    /// application, in one transaction.
    pub async fn apply_project(
        &self,
        applicant: &UserRecord,
        form: &ProjectForm,
    ) -> Result<ProjectId, ServiceError> {
        let today = self.today().await?;
        // Every problem of the form at once: the purpose too, not only after
        // the other fields pass.
        let (valid, purpose) = match (
            form.validate_new(today),
            self.resolve_purpose(&form.purpose).await,
        ) {
            (Ok(valid), Ok(purpose)) => (valid, purpose),
            (Err(mut errors), Err(ServiceError::Invalid(purpose_errors))) => {
                for e in purpose_errors.iter() {
                    errors.add(e.field, e.message);
                }
                return Err(ServiceError::Invalid(errors));
            }
            (Err(errors), _) => return Err(ServiceError::Invalid(errors)),
            (Ok(_), Err(e)) => return Err(e),
        };
        let now = self.clock.now();
        let applicant_id = applicant.id;
        self.blocking(move |store| {
            store.write(|tx| {
                let members = resolve_members(tx, &valid.members)?;
                check_unique_name(tx, &valid.name, &members, None)?;
                let id = ProjectId::generate();
                let project = ProjectRecord {
                    id,
                    // The manual's form ("project" and a number), made
                    // unique by the id's random bits.
                    code: format!(
                        "project{}{:04}",
                        now.as_millisecond(),
                        id.as_u128() % 10_000
                    ),
                    name: valid.name.clone(),
                    description: valid.description.clone(),
                    purpose,
                    start: valid.start,
                    end: valid.end,
                    members,
                    quota: Resources::ZERO,
                    status: ProjectStatus::Reviewing,
                    applicant: applicant_id,
                    created_at: now,
                    reminders_sent: Vec::new(),
                    deleted: false,
                    released_at: None,
                    released_in_cluster: false,
                    auto_stop_idle_hours: None,
                };
                projects::put_tx(tx, &project)?;
                projects::put_application_tx(
                    tx,
                    &ApplicationRecord {
                        id: ApplicationId::generate(),
                        project: id,
                        applicant: applicant_id,
                        kind: ApplicationKind::Project,
                        status: ApplicationStatus::Reviewing,
                        created_at: now,
                        reason: valid.description.clone(),
                        remark: String::new(),
                        decided_by: None,
                        decided_at: None,
                        period: Some((valid.start, valid.end)),
                    },
                )?;
                Ok(id)
            })
        })
        .await
    }

    /// The projects `viewer` belongs to (all projects for `all`, admins only).
    pub async fn list_projects(
        &self,
        viewer: &UserRecord,
        all: bool,
    ) -> Result<Vec<ProjectSummary>, ServiceError> {
        if all && !viewer.is_admin {
            return Err(ServiceError::Forbidden);
        }
        let viewer_id = viewer.id;
        self.blocking(move |store| {
            store.read(|tx| {
                let list = if all {
                    projects::all_read_tx(tx)?
                } else {
                    projects::of_user_read_tx(tx, viewer_id)?
                };
                let mut out = Vec::new();
                for p in list.into_iter().filter(|p| !p.deleted).rev() {
                    out.push(summary_read_tx(tx, p, viewer_id)?);
                }
                Ok(out)
            })
        })
        .await
    }

    /// One project, if `viewer` may see it.
    pub async fn project(
        &self,
        viewer: &UserRecord,
        id: ProjectId,
    ) -> Result<ProjectSummary, ServiceError> {
        let viewer = viewer.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let p = live_project_read_tx(tx, id)?;
                require(&viewer, &p, ProjectAction::View)?;
                summary_read_tx(tx, p, viewer.id)
            })
        })
        .await
    }

    /// Checks the permission table before anything else is looked at, so
    /// that someone who may not act learns nothing from validation messages.
    async fn authorize(
        &self,
        actor: &UserRecord,
        id: ProjectId,
        action: ProjectAction,
    ) -> Result<(), ServiceError> {
        let actor = actor.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let p = live_project_read_tx(tx, id)?;
                require(&actor, &p, action)
            })
        })
        .await
    }

    /// Names of users by id, for showing members.
    pub async fn usernames(&self) -> Result<Vec<(UserId, String, bool)>, ServiceError> {
        let all = self.list_users().await?;
        Ok(all
            .into_iter()
            .map(|u| (u.id, u.username.to_string(), u.disabled))
            .collect())
    }

    /// A manager's edit of name, description, members and managers.
    pub async fn edit_project(
        &self,
        actor: &UserRecord,
        id: ProjectId,
        form: &ProjectForm,
    ) -> Result<(), ServiceError> {
        self.authorize(actor, id, ProjectAction::Manage).await?;
        let edit = form.validate_edit().map_err(ServiceError::Invalid)?;
        let (name, description, names) = (edit.name, edit.description, edit.members);
        let actor = actor.clone();
        let now = self.clock.now();
        let stamp = self.audit_stamp();
        let stopped = self
            .blocking(move |store| {
                store.write(|tx| {
                    let mut p = live_project_tx(tx, id)?;
                    require(&actor, &p, ProjectAction::Manage)?;
                    if !p.status.is_open() {
                        return Err(ServiceError::Refused("error.project.closed"));
                    }
                    let mut members = resolve_members(tx, &names)?;
                    for m in &mut members {
                        if let Some(old) = p.members.iter().find(|o| o.user == m.user) {
                            m.cap = old.cap;
                        }
                    }
                    check_unique_name(tx, &name, &members, Some(id))?;
                    // Whoever leaves the project stops running in it.
                    let mut stopped = false;
                    for gone in p
                        .members
                        .iter()
                        .filter(|o| !members.iter().any(|m| m.user == o.user))
                    {
                        stopped |= stop_member_workloads_tx(tx, id, gone.user, now)?;
                    }
                    let target = format!(
                        "{}: {}",
                        name,
                        names
                            .iter()
                            .map(|(n, r)| format!("{n} ({r:?})"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    p.name = name;
                    p.description = description;
                    p.members = members;
                    projects::put_tx(tx, &p)?;
                    stamp.record_tx(tx, AuditAction::MembersChanged, target)?;
                    Ok(stopped)
                })
            })
            .await?;
        if stopped {
            self.wake_reconciler();
        }
        Ok(())
    }

    /// Sets one member's cap inside the project.
    pub async fn set_member_cap(
        &self,
        actor: &UserRecord,
        id: ProjectId,
        member: UserId,
        cap: (&str, &str, &str),
    ) -> Result<(), ServiceError> {
        self.authorize(actor, id, ProjectAction::Manage).await?;
        let cap = project::parse_cap(cap.0, cap.1, cap.2).map_err(ServiceError::Invalid)?;
        let actor = actor.clone();
        let now = self.clock.now();
        let stamp = self.audit_stamp();
        self.blocking(move |store| {
            store.write(|tx| {
                let mut p = live_project_tx(tx, id)?;
                require(&actor, &p, ProjectAction::Manage)?;
                let m = p
                    .members
                    .iter_mut()
                    .find(|m| m.user == member)
                    .ok_or(ServiceError::NotFound)?;
                m.cap = cap;
                project::check_cap_within(&cap, &p.quota).map_err(ServiceError::Invalid)?;
                projects::put_tx(tx, &p)?;
                let member_name = users::get_tx(tx, member)?
                    .map(|u| u.username.to_string())
                    .unwrap_or_default();
                stamp.record_tx(
                    tx,
                    AuditAction::MembersChanged,
                    format!("{}: cap of {member_name}", p.name),
                )?;
                // A raised cap may let queued jobs start.
                start_queued_tx(tx, id, now)?;
                Ok(())
            })
        })
        .await?;
        self.wake_reconciler();
        Ok(())
    }

    /// Deletes a project after its verification code was typed back:
    /// everything in it is released; the record stays for cost history.
    pub async fn delete_project(
        &self,
        actor: &UserRecord,
        id: ProjectId,
        expected: &str,
        typed: &str,
    ) -> Result<(), ServiceError> {
        self.authorize(actor, id, ProjectAction::Delete).await?;
        if expected.is_empty() || typed.trim() != expected {
            return Err(ServiceError::Invalid(FieldErrors::single(
                "code",
                "error.project.code_mismatch",
            )));
        }
        let actor = actor.clone();
        let now = self.clock.now();
        let stamp = self.audit_stamp();
        self.blocking(move |store| {
            store.write(|tx| {
                let mut p = live_project_tx(tx, id)?;
                require(&actor, &p, ProjectAction::Delete)?;
                stamp.record_tx(tx, AuditAction::ProjectDeleted, p.name.as_str())?;
                holds::delete_project_tx(tx, p.id)?;
                wind_down_project_tx(tx, p.id, true, now)?;
                remove_project_images_tx(tx, p.id)?;
                p.deleted = true;
                if p.status != ProjectStatus::Released {
                    p.status = ProjectStatus::Released;
                    p.released_at = Some(now);
                }
                projects::put_tx(tx, &p)?;
                for mut a in projects::applications_of_project_tx(tx, id)? {
                    if a.status == ApplicationStatus::Reviewing {
                        a.status = ApplicationStatus::Revoked;
                        projects::put_application_tx(tx, &a)?;
                    }
                }
                Ok(())
            })
        })
        .await?;
        self.wake_reconciler();
        Ok(())
    }

    fn file_application_tx(
        tx: &WriteTx,
        actor: &UserRecord,
        id: ProjectId,
        now: Timestamp,
        reason: String,
        make_kind: impl FnOnce(&ProjectRecord) -> Result<ApplicationKind, ServiceError>,
    ) -> Result<ApplicationId, ServiceError> {
        let p = live_project_tx(tx, id)?;
        require(actor, &p, ProjectAction::Apply)?;
        if !matches!(
            p.status,
            ProjectStatus::Active | ProjectStatus::BufferPeriod
        ) {
            return Err(ServiceError::Refused(
                "error.application.project_not_active",
            ));
        }
        let kind = make_kind(&p)?;
        let pending = projects::applications_of_project_tx(tx, id)?
            .into_iter()
            .any(|a| a.status == ApplicationStatus::Reviewing && a.kind.code() == kind.code());
        if pending {
            return Err(ServiceError::Refused("error.application.pending"));
        }
        let application = ApplicationRecord {
            id: ApplicationId::generate(),
            project: id,
            applicant: actor.id,
            kind,
            status: ApplicationStatus::Reviewing,
            created_at: now,
            reason,
            remark: String::new(),
            decided_by: None,
            decided_at: None,
            period: Some((p.start, p.end)),
        };
        projects::put_application_tx(tx, &application)?;
        Ok(application.id)
    }

    /// A manager applies for a period extension of `days`.
    pub async fn apply_extension(
        &self,
        actor: &UserRecord,
        id: ProjectId,
        days: &str,
        reason: &str,
    ) -> Result<ApplicationId, ServiceError> {
        self.authorize(actor, id, ProjectAction::Apply).await?;
        let (days, reason) =
            project::validate_extension(days, reason).map_err(ServiceError::Invalid)?;
        let actor = actor.clone();
        let now = self.clock.now();
        self.blocking(move |store| {
            store.write(|tx| {
                Self::file_application_tx(tx, &actor, id, now, reason, |p| {
                    let (next_start, next_end) = project::extended_period(p.end, days).ok_or(
                        ServiceError::Invalid(FieldErrors::single("days", "error.extension.days")),
                    )?;
                    Ok(ApplicationKind::Extension {
                        days,
                        next_start,
                        next_end,
                    })
                })
            })
        })
        .await
    }

    /// A manager applies for more quota.
    pub async fn apply_quota(
        &self,
        actor: &UserRecord,
        id: ProjectId,
        amounts: project::AmountFields<'_>,
        reason: &str,
    ) -> Result<ApplicationId, ServiceError> {
        self.authorize(actor, id, ProjectAction::Apply).await?;
        let (add, reason) =
            project::validate_quota_application(amounts, reason).map_err(ServiceError::Invalid)?;
        let actor = actor.clone();
        let now = self.clock.now();
        self.blocking(move |store| {
            store.write(|tx| {
                Self::file_application_tx(tx, &actor, id, now, reason, |_| {
                    Ok(ApplicationKind::Quota { add })
                })
            })
        })
        .await
    }

    fn views(
        tx: &ReadTx,
        list: Vec<ApplicationRecord>,
    ) -> Result<Vec<ApplicationView>, ServiceError> {
        let mut out = Vec::new();
        for application in list {
            let Some(p) = projects::get_read_tx(tx, application.project)? else {
                continue;
            };
            let applicant = users::get_read_tx(tx, application.applicant)?
                .map(|u| u.username.to_string())
                .unwrap_or_default();
            let (project_start, project_end) = application.period.unwrap_or((p.start, p.end));
            out.push(ApplicationView {
                project_name: p.name,
                project_code: p.code,
                project_start,
                project_end,
                applicant,
                application,
            });
        }
        Ok(out)
    }

    /// The applications `user` made and those about the projects they
    /// manage, newest first (Project Review List).
    pub async fn my_applications(
        &self,
        user: UserId,
    ) -> Result<Vec<ApplicationView>, ServiceError> {
        self.blocking(move |store| {
            store.read(|tx| {
                let mut list = projects::applications_of_user_read_tx(tx, user)?;
                for p in projects::of_user_read_tx(tx, user)? {
                    if p.role_of(user) != Some(ProjectRole::Manager) {
                        continue;
                    }
                    for a in projects::applications_of_project_read_tx(tx, p.id)? {
                        if !list.iter().any(|mine| mine.id == a.id) {
                            list.push(a);
                        }
                    }
                }
                list.sort_by_key(|a| std::cmp::Reverse(a.created_at));
                Self::views(tx, list)
            })
        })
        .await
    }

    /// The extension and quota applications of a project that wait for an
    /// admin (Project Detail), for a viewer who may see the project.
    pub async fn pending_applications(
        &self,
        viewer: &UserRecord,
        id: ProjectId,
    ) -> Result<Vec<ApplicationView>, ServiceError> {
        let viewer = viewer.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let p = live_project_read_tx(tx, id)?;
                require(&viewer, &p, ProjectAction::View)?;
                let pending = projects::applications_of_project_read_tx(tx, id)?
                    .into_iter()
                    .filter(|a| {
                        a.status == ApplicationStatus::Reviewing
                            && a.kind != ApplicationKind::Project
                    })
                    .collect();
                Self::views(tx, pending)
            })
        })
        .await
    }

    /// Applications waiting for an admin, oldest first.
    pub async fn reviewing_applications(
        &self,
        admin: &UserRecord,
    ) -> Result<Vec<ApplicationView>, ServiceError> {
        if !admin.is_admin {
            return Err(ServiceError::Forbidden);
        }
        self.blocking(|store| store.read(|tx| Self::views(tx, projects::reviewing_read_tx(tx)?)))
            .await
    }

    /// The applicant takes back an application still in review.
    pub async fn revoke_application(
        &self,
        actor: UserId,
        id: ApplicationId,
    ) -> Result<(), ServiceError> {
        let now = self.clock.now();
        self.blocking(move |store| {
            store.write(|tx| {
                let mut a = projects::application_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                if a.applicant != actor {
                    return Err(ServiceError::NotFound);
                }
                if a.status != ApplicationStatus::Reviewing {
                    return Err(ServiceError::Refused("error.application.not_reviewing"));
                }
                a.status = ApplicationStatus::Revoked;
                a.decided_at = Some(now);
                projects::put_application_tx(tx, &a)?;
                if a.kind == ApplicationKind::Project
                    && let Some(mut p) = projects::get_tx(tx, a.project)?
                {
                    p.status = ProjectStatus::Revoked;
                    projects::put_tx(tx, &p)?;
                }
                Ok(())
            })
        })
        .await
    }

    /// An admin approves or declines an application. Approving a project
    /// needs its quota; declining needs a remark.
    pub async fn decide_application(
        &self,
        admin: &UserRecord,
        id: ApplicationId,
        approve: bool,
        remark: &str,
        quota: Option<Resources>,
    ) -> Result<(), ServiceError> {
        if !admin.is_admin {
            return Err(ServiceError::Forbidden);
        }
        let remark = remark.trim().to_owned();
        if !approve && remark.is_empty() {
            return Err(ServiceError::Invalid(FieldErrors::single(
                "remark",
                "error.review.reason_required",
            )));
        }
        if remark.chars().count() > project::REASON_MAX {
            return Err(ServiceError::Invalid(FieldErrors::single(
                "remark",
                "error.field.reason_too_long",
            )));
        }
        let admin_id = admin.id;
        let now = self.clock.now();
        let services = self.clone();
        let stamp = self.audit_stamp();
        self.blocking(move |store| {
            store.write(|tx| {
                let mut a = projects::application_tx(tx, id)?.ok_or(ServiceError::NotFound)?;
                if a.status != ApplicationStatus::Reviewing {
                    return Err(ServiceError::Refused("error.application.not_reviewing"));
                }
                let mut p = projects::get_tx(tx, a.project)?.ok_or(ServiceError::NotFound)?;
                let settings = platform::get_tx(tx)?;
                let today = date_in(&settings, now);
                if approve {
                    match a.kind {
                        ApplicationKind::Project => {
                            let quota = quota.ok_or(ServiceError::Invalid(FieldErrors::single(
                                "gpu",
                                "error.review.quota_required",
                            )))?;
                            p.quota = quota;
                            p.status = ProjectStatus::Active;
                        }
                        ApplicationKind::Extension { next_end, .. } => {
                            p.end = next_end;
                            p.reminders_sent.clear();
                            p.status =
                                project::status_on(p.status, p.end, today, settings.buffer_days);
                        }
                        ApplicationKind::Quota { add } => {
                            p.quota = p
                                .quota
                                .checked_add(add)
                                .ok_or(ServiceError::Refused("error.quota.total_over"))?;
                        }
                    }
                    projects::put_tx(tx, &p)?;
                    // More quota (or a period extended) may let queued
                    // jobs start.
                    start_queued_tx(tx, p.id, now)?;
                } else if a.kind == ApplicationKind::Project {
                    p.status = ProjectStatus::Declined;
                    projects::put_tx(tx, &p)?;
                }
                a.status = if approve {
                    ApplicationStatus::Approved
                } else {
                    ApplicationStatus::Declined
                };
                let target = match &a.kind {
                    ApplicationKind::Project => format!("project {}", p.name),
                    ApplicationKind::Extension { next_end, .. } => {
                        format!("extension of {} to {next_end}", p.name)
                    }
                    ApplicationKind::Quota { add } => {
                        format!("quota of {} +{}", p.name, super::audit::resources(add))
                    }
                };
                let action = if approve {
                    AuditAction::ApplicationApproved
                } else {
                    AuditAction::ApplicationDeclined
                };
                stamp.record_tx(tx, action, target)?;
                a.remark = remark.clone();
                a.decided_by = Some(admin_id);
                a.decided_at = Some(now);
                projects::put_application_tx(tx, &a)?;
                let key = kind_key(&a.kind);
                enqueue_tx(
                    tx,
                    &services.catalog,
                    a.applicant,
                    MailKind::Decisions,
                    now,
                    |tr| notify::application_decided(tr, &p.name, key, approve, &remark),
                )?;
                Ok(())
            })
        })
        .await?;
        self.wake_reconciler();
        Ok(())
    }

    /// An admin sets quota and dates directly.
    pub async fn revise_project(
        &self,
        admin: &UserRecord,
        id: ProjectId,
        quota: Resources,
        start: &str,
        end: &str,
    ) -> Result<(), ServiceError> {
        self.authorize(admin, id, ProjectAction::Revise).await?;
        let (start, end) =
            project::validate_revised_period(start, end).map_err(ServiceError::Invalid)?;
        let admin = admin.clone();
        let now = self.clock.now();
        let services = self.clone();
        let stamp = self.audit_stamp();
        let moved = self
            .blocking(move |store| {
                store.write(|tx| {
                    let mut p = live_project_tx(tx, id)?;
                    require(&admin, &p, ProjectAction::Revise)?;
                    if !matches!(
                        p.status,
                        ProjectStatus::Active | ProjectStatus::BufferPeriod
                    ) {
                        return Err(ServiceError::Refused("error.project.closed"));
                    }
                    stamp.record_tx(
                        tx,
                        AuditAction::ProjectRevised,
                        format!(
                            "{}: quota {}, {start} to {end}",
                            p.name,
                            super::audit::resources(&quota)
                        ),
                    )?;
                    p.quota = quota;
                    p.start = start;
                    if p.end != end {
                        p.reminders_sent.clear();
                    }
                    p.end = end;
                    let settings = platform::get_tx(tx)?;
                    // An end moved back into the future ends the buffer period
                    // (as an approved extension does); every other change of
                    // status takes the sweep's own transitions.
                    if p.status == ProjectStatus::BufferPeriod
                        && project::status_on(
                            p.status,
                            p.end,
                            date_in(&settings, now),
                            settings.buffer_days,
                        ) == ProjectStatus::Active
                    {
                        p.status = ProjectStatus::Active;
                    }
                    projects::put_tx(tx, &p)?;
                    let mut report = SweepReport::default();
                    services.advance_tx(tx, &mut p, &settings, now, &mut report)?;
                    let started = start_queued_tx(tx, id, now)?;
                    Ok(report.to_buffer + report.released + started > 0)
                })
            })
            .await?;
        if moved {
            self.wake_reconciler();
        }
        Ok(())
    }

    /// An admin sets (or, with an empty field, turns off) the automatic
    /// stop of the project's containers whose GPUs stayed idle that many
    /// hours (`domain::metrics::AUTO_STOP_HOURS`).
    pub async fn set_auto_stop(
        &self,
        admin: &UserRecord,
        id: ProjectId,
        hours: &str,
    ) -> Result<(), ServiceError> {
        self.authorize(admin, id, ProjectAction::Revise).await?;
        let hours =
            crate::domain::metrics::parse_auto_stop_hours(hours).map_err(ServiceError::Invalid)?;
        let admin = admin.clone();
        self.blocking(move |store| {
            store.write(|tx| {
                let mut p = live_project_tx(tx, id)?;
                require(&admin, &p, ProjectAction::Revise)?;
                p.auto_stop_idle_hours = hours;
                projects::put_tx(tx, &p)?;
                Ok(())
            })
        })
        .await
    }

    /// An admin releases a project now.
    pub async fn force_release(
        &self,
        admin: &UserRecord,
        id: ProjectId,
    ) -> Result<(), ServiceError> {
        let admin = admin.clone();
        let now = self.clock.now();
        let stamp = self.audit_stamp();
        let services = self.clone();
        self.blocking(move |store| {
            store.write(|tx| {
                let mut p = live_project_tx(tx, id)?;
                require(&admin, &p, ProjectAction::Revise)?;
                if !matches!(
                    p.status,
                    ProjectStatus::Active | ProjectStatus::BufferPeriod
                ) {
                    return Err(ServiceError::Refused("error.project.closed"));
                }
                stamp.record_tx(tx, AuditAction::ProjectReleased, p.name.as_str())?;
                services.release_tx(tx, &mut p, now)
            })
        })
        .await?;
        self.wake_reconciler();
        Ok(())
    }

    /// Marks a project released and tells its managers; its workloads and
    /// volumes are to be deleted (the reconcile loop does it). Schedules are
    /// released here too once they exist.
    fn release_tx(
        &self,
        tx: &WriteTx,
        p: &mut ProjectRecord,
        now: Timestamp,
    ) -> Result<(), ServiceError> {
        holds::delete_project_tx(tx, p.id)?;
        wind_down_project_tx(tx, p.id, true, now)?;
        remove_project_images_tx(tx, p.id)?;
        p.status = ProjectStatus::Released;
        p.released_at = Some(now);
        projects::put_tx(tx, p)?;
        // Nothing can be granted to a released project: what still waits
        // for review is closed, with a remark in the applicant's language.
        for mut a in projects::applications_of_project_tx(tx, p.id)? {
            if a.status != ApplicationStatus::Reviewing {
                continue;
            }
            let lang = users::get_tx(tx, a.applicant)?
                .as_ref()
                .map_or(Lang::En, super::mail::mail_lang);
            a.status = ApplicationStatus::Declined;
            a.remark = self
                .catalog
                .tr(lang)
                .t("application.closed_released")
                .to_owned();
            a.decided_at = Some(now);
            projects::put_application_tx(tx, &a)?;
        }
        let name = p.name.clone();
        for manager in p.managers().collect::<Vec<_>>() {
            enqueue_tx(tx, &self.catalog, manager, MailKind::Reminders, now, |tr| {
                notify::released(tr, &name)
            })?;
        }
        Ok(())
    }

    /// Remembers the project chosen in the header's selector.
    pub async fn select_project(
        &self,
        user: &UserRecord,
        id: ProjectId,
    ) -> Result<(), ServiceError> {
        let viewer = user.clone();
        self.blocking(move |store| {
            store.write(|tx| {
                let p = live_project_tx(tx, id)?;
                if p.role_of(viewer.id).is_none() {
                    return Err(ServiceError::NotFound);
                }
                let mut u = users::get_tx(tx, viewer.id)?.ok_or(ServiceError::NotFound)?;
                u.current_project = Some(id);
                users::update_tx(tx, &u)?;
                Ok(())
            })
        })
        .await
    }

    /// The user's Cloud Provisioning record.
    pub async fn activation(&self, user: UserId) -> Result<Option<ActivationRecord>, ServiceError> {
        self.blocking(move |store| store.read(|tx| Ok(activations::get_read_tx(tx, user)?)))
            .await
    }

    /// Asks for the user's activation (Cloud Provisioning): it is
    /// Provisioning until the reconcile loop has had the driver provision
    /// the user in each of their projects (kube: their service account;
    /// local: their home directory), then Passed, or Failed with the
    /// driver's reason. Asking again while it provisions or once it passed
    /// changes nothing.
    pub async fn activate(&self, user: UserId) -> Result<ActivationRecord, ServiceError> {
        let now = self.clock.now();
        let record = self
            .blocking(move |store| {
                store.write(|tx| {
                    if let Some(current) = activations::get_tx(tx, user)?
                        && matches!(
                            current.status,
                            ActivationStatus::Provisioning | ActivationStatus::Passed
                        )
                    {
                        return Ok(current);
                    }
                    let record = ActivationRecord {
                        user,
                        status: ActivationStatus::Provisioning,
                        requested_at: now,
                        message: String::new(),
                    };
                    activations::put_tx(tx, &record)?;
                    Ok(record)
                })
            })
            .await?;
        self.wake_reconciler();
        Ok(record)
    }

    /// The users waiting for their activation, each with the projects the
    /// driver is to provision them in (their open projects).
    pub(crate) async fn pending_activations(
        &self,
    ) -> Result<Vec<(UserId, Vec<ProjectSpec>)>, ServiceError> {
        self.blocking(|store| {
            store.read(|tx| {
                let mut out = Vec::new();
                for a in activations::provisioning_read_tx(tx)? {
                    let specs = projects::of_user_read_tx(tx, a.user)?
                        .iter()
                        .filter(|p| {
                            !p.deleted
                                && matches!(
                                    p.status,
                                    ProjectStatus::Active | ProjectStatus::BufferPeriod
                                )
                        })
                        .map(project_spec)
                        .collect();
                    out.push((a.user, specs));
                }
                Ok(out)
            })
        })
        .await
    }

    /// Records what the driver did for a user's activation: Passed, or
    /// Failed with its reason.
    pub(crate) async fn record_activation(
        &self,
        user: UserId,
        result: Result<(), String>,
    ) -> Result<(), ServiceError> {
        self.blocking(move |store| {
            store.write(|tx| {
                let Some(mut record) = activations::get_tx(tx, user)?
                    .filter(|a| a.status == ActivationStatus::Provisioning)
                else {
                    return Ok(());
                };
                match result {
                    Ok(()) => record.status = ActivationStatus::Passed,
                    Err(message) => {
                        record.status = ActivationStatus::Failed;
                        record.message = message;
                    }
                }
                activations::put_tx(tx, &record)?;
                Ok(())
            })
        })
        .await
    }

    /// Released projects whose workloads and volumes are all gone but whose
    /// cluster side the driver has not removed yet.
    pub(crate) async fn projects_to_release(&self) -> Result<Vec<ProjectId>, ServiceError> {
        self.blocking(|store| {
            store.read(|tx| {
                let mut out = Vec::new();
                for p in projects::all_read_tx(tx)? {
                    if p.status != ProjectStatus::Released || p.released_in_cluster {
                        continue;
                    }
                    if workloads::of_project_read_tx(tx, p.id)?.is_empty()
                        && volumes::of_project_read_tx(tx, p.id)?.is_empty()
                    {
                        out.push(p.id);
                    }
                }
                Ok(out)
            })
        })
        .await
    }

    /// Records that the driver removed a released project's cluster side.
    pub(crate) async fn record_project_released(&self, id: ProjectId) -> Result<(), ServiceError> {
        self.blocking(move |store| {
            store.write(|tx| {
                if let Some(mut p) = projects::get_tx(tx, id)? {
                    p.released_in_cluster = true;
                    projects::put_tx(tx, &p)?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Page `page` (from 1; past the end: the last) of `page_size` mails of
    /// the outbox, newest first, with how many it holds (admins).
    pub async fn outbox_page(
        &self,
        page: usize,
        page_size: usize,
    ) -> Result<OutboxPage, ServiceError> {
        self.blocking(move |store| {
            store.read(|tx| {
                let (mails, total, page) = outbox::page_read_tx(tx, page, page_size)?;
                Ok(OutboxPage { mails, total, page })
            })
        })
        .await
    }

    /// Moves one project along its lifecycle as of `now`, the one way every
    /// status change of a live project goes (the sweep, an admin's new
    /// dates): past its end it enters the buffer period (its workloads stop,
    /// managers are told), past the buffer it is released (everything in it
    /// is deleted, managers are told); while active, reminders go out.
    fn advance_tx(
        &self,
        tx: &WriteTx,
        p: &mut ProjectRecord,
        settings: &PlatformSettingsRecord,
        now: Timestamp,
        report: &mut SweepReport,
    ) -> Result<(), ServiceError> {
        let today = date_in(settings, now);
        let next = project::status_on(p.status, p.end, today, settings.buffer_days);
        if p.status == ProjectStatus::Active && next != ProjectStatus::Active {
            // Nothing in a buffered project runs: its workloads stop and
            // give back what they held.
            wind_down_project_tx(tx, p.id, false, now)?;
            p.status = ProjectStatus::BufferPeriod;
            projects::put_tx(tx, p)?;
            report.to_buffer += 1;
            let release = p
                .end
                .checked_add(jiff::Span::new().days(i64::from(settings.buffer_days) + 1))
                .unwrap_or(p.end)
                .to_string();
            let name = p.name.clone();
            for m in p.managers().collect::<Vec<_>>() {
                enqueue_tx(tx, &self.catalog, m, MailKind::Reminders, now, |tr| {
                    notify::buffer_started(tr, &name, &release)
                })?;
            }
        }
        if p.status == ProjectStatus::BufferPeriod && next == ProjectStatus::Released {
            self.release_tx(tx, p, now)?;
            report.released += 1;
            return Ok(());
        }
        if p.status == ProjectStatus::Active
            && let Some((days, mark)) =
                project::due_reminders(p.end, today, &settings.reminder_days, &p.reminders_sent)
        {
            p.reminders_sent.extend(mark);
            projects::put_tx(tx, p)?;
            report.reminders += 1;
            let (name, end) = (p.name.clone(), p.end.to_string());
            for m in p.managers().collect::<Vec<_>>() {
                enqueue_tx(tx, &self.catalog, m, MailKind::Reminders, now, |tr| {
                    notify::reminder(tr, &name, days, &end)
                })?;
            }
        }
        Ok(())
    }

    /// Moves every project along its lifecycle as of now: reminders,
    /// buffer period, release. Derived from the store alone, so running it
    /// after downtime catches up and running it twice changes nothing.
    pub async fn sweep_lifecycle(&self) -> Result<SweepReport, ServiceError> {
        let now = self.clock.now();
        let services = self.clone();
        self.blocking(move |store: &Store| {
            store.write(|tx| {
                let settings = platform::get_tx(tx)?;
                let mut report = SweepReport::default();
                for mut p in projects::all_tx(tx)? {
                    if p.deleted {
                        continue;
                    }
                    services.advance_tx(tx, &mut p, &settings, now, &mut report)?;
                }
                Ok(report)
            })
        })
        .await
        .inspect(|report| {
            if report.to_buffer + report.released > 0 {
                self.wake_reconciler();
            }
        })
    }
}

//! Order records (manual §6.2) and the cost center (manual §5.9).
//!
//! Every creation of a container, job, volume or custom image writes an
//! order in the creating transaction: the configuration, the names and the
//! hourly price as they were then. The cost center reads a project's orders
//! and the run intervals the store keeps from the observed statuses
//! (`store::runs`): cost = running hours × the ordered hourly price.
//! Workloads and images call in here; this module never calls them.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use super::guards::{live_project_read_tx, role_of};
use super::{ServiceError, Services};
use crate::cluster::WorkloadEvent;
use crate::domain::authz::{ProjectAction, WorkloadAction, permits_project, permits_workload};
use crate::domain::cost::{self, HourlyPrice, Month, ORDER_PERIOD_DAYS_MAX, gpu_price_milli};
use crate::domain::ids::{OrderId, ProjectId, UserId, VolumeId};
use crate::domain::quota::{MIB_PER_GB, Milli};
use crate::domain::validation::FieldErrors;
use crate::domain::workload::{Resources, VolumeSpec, WorkloadId};
use crate::store::catalog::{self as catalog_store, GpuTypeRecord, HardwareSpecRecord};
use crate::store::custom_images::CustomImageRecord;
use crate::store::orders::{self, ConfigItem, OrderKind, OrderRecord};
use crate::store::projects::{self, ProjectRecord};
use crate::store::users::{self, UserRecord};
use crate::store::workloads::{self, WorkloadSpec};
use crate::store::{StoreError, WriteTx, platform, runs};

/// The hourly price of `resources` in the catalog now: the hardware spec
/// with the same CPU, RAM and GPU type (the oldest, if several), plus the
/// GPU type's price for the units held. No matching spec: no spec price.
fn hourly_price_tx(tx: &WriteTx, resources: &Resources) -> Result<HourlyPrice, StoreError> {
    let gpu_type = match &resources.gpu {
        Some(gpu) => catalog_store::list_tx::<GpuTypeRecord>(tx)?
            .into_iter()
            .find(|t| t.name == gpu.type_name),
        None => None,
    };
    let spec = catalog_store::list_tx::<HardwareSpecRecord>(tx)?
        .into_iter()
        .find(|s| {
            s.cpu_milli == resources.cpu_milli
                && s.ram_mib == resources.ram_mib
                && s.gpu_type == gpu_type.as_ref().map(|t| t.id)
        });
    let gpu_milli = match (&resources.gpu, &gpu_type) {
        (Some(gpu), Some(t)) => gpu_price_milli(t.price_milli.unwrap_or(0), gpu.units_milli),
        _ => 0,
    };
    Ok(HourlyPrice {
        spec_name: spec.as_ref().map(|s| s.name.clone()),
        spec_milli: spec.map_or(0, |s| s.price_milli),
        gpu_type: resources.gpu.as_ref().map(|g| g.type_name.clone()),
        gpu_milli,
    })
}

fn item(label: &str, value: impl Into<String>) -> ConfigItem {
    ConfigItem {
        label: label.to_owned(),
        value: value.into(),
        value_is_key: false,
    }
}

/// RAM as orders write it: `1.5 GB`.
fn ram_text(mib: u64) -> String {
    let tenths = (mib * 10 + MIB_PER_GB / 2) / MIB_PER_GB;
    format!("{}.{} GB", tenths / 10, tenths % 10)
}

/// An instant as orders write it, in the platform zone with its name.
fn time_text(at: Timestamp, zone: &TimeZone) -> String {
    let name = zone.iana_name().unwrap_or("UTC").to_owned();
    format!(
        "{} ({name})",
        at.to_zoned(zone.clone()).strftime("%Y/%m/%d %H:%M")
    )
}

fn resources_items(resources: &Resources, price: &HourlyPrice) -> Vec<ConfigItem> {
    let mut items = vec![
        item(
            "order.config.spec",
            price.spec_name.clone().unwrap_or_else(|| "—".to_owned()),
        ),
        item("order.config.cpu", Milli(resources.cpu_milli).to_string()),
        item("order.config.ram", ram_text(resources.ram_mib)),
    ];
    if let Some(gpu) = &resources.gpu {
        items.push(item(
            "order.config.gpu",
            format!("{} × {}", gpu.type_name, gpu.count),
        ));
    }
    items
}

/// The configuration of a workload as its order keeps it.
fn workload_config(spec: &WorkloadSpec, price: &HourlyPrice, zone: &TimeZone) -> Vec<ConfigItem> {
    let mounts = |volumes: &[crate::domain::workload::VolumeMount]| {
        volumes
            .iter()
            .map(|m| format!("{}:{}", m.volume, m.mount_path))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match spec {
        WorkloadSpec::Container(s) => {
            let mut items = vec![item("order.config.image", s.image.to_string())];
            items.extend(resources_items(&s.resources, price));
            if !s.volumes.is_empty() {
                items.push(item("order.config.volumes", mounts(&s.volumes)));
            }
            if !s.services.is_empty() {
                let names: Vec<String> = s
                    .services
                    .iter()
                    .map(|svc| format!("{}:{}", svc.name, svc.port))
                    .collect();
                items.push(item("order.config.services", names.join(", ")));
            }
            if let Some(start) = s.start_at {
                items.push(item("order.config.start_at", time_text(start, zone)));
            }
            if let Some(end) = s.end_at {
                items.push(item("order.config.end_at", time_text(end, zone)));
            }
            items
        }
        WorkloadSpec::Job(s) => {
            let mut items = vec![
                item("order.config.image", s.image.to_string()),
                item("order.config.command", s.command.clone()),
            ];
            items.extend(resources_items(&s.resources, price));
            if !s.volumes.is_empty() {
                items.push(item("order.config.volumes", mounts(&s.volumes)));
            }
            if let Some(limit) = s.time_limit_secs {
                items.push(item("order.config.time_limit", format!("{limit} s")));
            }
            items
        }
        WorkloadSpec::ImageCommit(s) => vec![item("order.config.image", s.target.to_string())],
    }
}

/// The names and currency every order carries.
struct OrderContext {
    project_name: String,
    owner_name: String,
    currency: String,
    zone: TimeZone,
}

fn context_tx(
    tx: &WriteTx,
    project: &ProjectRecord,
    owner: UserId,
) -> Result<OrderContext, StoreError> {
    let settings = platform::get_tx(tx)?;
    let owner_name = users::get_tx(tx, owner)?
        .map_or_else(|| owner.to_string(), |u| u.username.as_str().to_owned());
    Ok(OrderContext {
        project_name: project.name.clone(),
        owner_name,
        currency: settings.currency,
        zone: TimeZone::get(&settings.time_zone).unwrap_or(TimeZone::UTC),
    })
}

/// Writes the order of a new container or job, in its creating transaction.
pub(crate) fn record_workload_order_tx(
    tx: &WriteTx,
    actor: &UserRecord,
    project: &ProjectRecord,
    spec: &WorkloadSpec,
    now: Timestamp,
) -> Result<(), StoreError> {
    let kind = match spec {
        WorkloadSpec::Container(_) => OrderKind::Container,
        WorkloadSpec::Job(_) => OrderKind::Job,
        WorkloadSpec::ImageCommit(_) => return Ok(()),
    };
    let price = match spec {
        WorkloadSpec::Container(s) => hourly_price_tx(tx, &s.resources)?,
        WorkloadSpec::Job(s) => hourly_price_tx(tx, &s.resources)?,
        WorkloadSpec::ImageCommit(_) => HourlyPrice::default(),
    };
    let ctx = context_tx(tx, project, spec.owner())?;
    orders::insert_tx(
        tx,
        &OrderRecord {
            id: OrderId::from_u128(spec.id().as_u128()),
            kind,
            project: project.id,
            project_name: ctx.project_name,
            owner: spec.owner(),
            owner_name: ctx.owner_name,
            ordered_by: actor.id,
            name: spec.name().unwrap_or_default().to_owned(),
            created_at: now,
            config: workload_config(spec, &price, &ctx.zone),
            price,
            currency: ctx.currency,
        },
    )
}

/// Writes the order of a new volume, in its creating transaction.
pub(crate) fn record_volume_order_tx(
    tx: &WriteTx,
    actor: &UserRecord,
    project: &ProjectRecord,
    id: VolumeId,
    spec: &VolumeSpec,
    now: Timestamp,
) -> Result<(), StoreError> {
    let ctx = context_tx(tx, project, spec.owner)?;
    let mut config = vec![item("order.config.size", format!("{} GiB", spec.size_gib))];
    if !spec.storage_class.is_empty() {
        config.push(item(
            "order.config.storage_class",
            spec.storage_class.clone(),
        ));
    }
    orders::insert_tx(
        tx,
        &OrderRecord {
            id: OrderId::from_u128(id.as_u128()),
            kind: OrderKind::Volume,
            project: project.id,
            project_name: ctx.project_name,
            owner: spec.owner,
            owner_name: ctx.owner_name,
            ordered_by: actor.id,
            name: spec.name.clone(),
            created_at: now,
            config,
            price: HourlyPrice::default(),
            currency: ctx.currency,
        },
    )
}

/// Writes the order of a new custom image, in its creating transaction.
pub(crate) fn record_image_order_tx(
    tx: &WriteTx,
    actor: &UserRecord,
    project: &ProjectRecord,
    image: &CustomImageRecord,
    type_key: &str,
) -> Result<(), StoreError> {
    let ctx = context_tx(tx, project, image.owner)?;
    orders::insert_tx(
        tx,
        &OrderRecord {
            id: OrderId::from_u128(image.id.as_u128()),
            kind: OrderKind::CustomImage,
            project: project.id,
            project_name: ctx.project_name,
            owner: image.owner,
            owner_name: ctx.owner_name,
            ordered_by: actor.id,
            name: image.name.clone(),
            created_at: image.created_at,
            config: vec![
                item("order.config.source", image.source_name.clone()),
                item("order.config.image", image.image.to_string()),
                item("order.config.target", image.target.to_string()),
                ConfigItem {
                    label: "order.config.image_type".to_owned(),
                    value: type_key.to_owned(),
                    value_is_key: true,
                },
            ],
            price: HourlyPrice::default(),
            currency: ctx.currency,
        },
    )
}

/// One workload's line in the cost center.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostLine {
    pub id: OrderId,
    pub kind: OrderKind,
    pub name: String,
    pub owner_name: String,
    pub hourly_milli: u64,
    pub running_ms: u64,
    pub cost_milli: u64,
}

/// One member's total in the cost center.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberCost {
    pub owner_name: String,
    pub running_ms: u64,
    pub cost_milli: u64,
}

/// A project's cost for one month, as `viewer` may see it.
#[derive(Debug, Clone)]
pub struct CostReport {
    pub project: ProjectId,
    pub project_name: String,
    pub month: Month,
    pub currency: String,
    pub zone: TimeZone,
    /// Whether it covers every member's workloads (a manager or an admin),
    /// or only the viewer's own.
    pub whole_project: bool,
    /// The workloads that ran in the month, by member then name.
    pub lines: Vec<CostLine>,
    pub members: Vec<MemberCost>,
    pub total_ms: u64,
    pub total_milli: u64,
}

/// A project the viewer may choose in the cost center.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostProject {
    pub id: ProjectId,
    pub name: String,
}

/// An order and, while its workload exists, that workload's provisioning
/// events (oldest first).
#[derive(Debug, Clone)]
pub struct OrderDetail {
    pub order: OrderRecord,
    pub events: Option<Vec<WorkloadEvent>>,
}

/// How many days the order list covers by default (today included).
pub const ORDER_PERIOD_DAYS_DEFAULT: i32 = 30;

/// The orders of a period (dates in `zone`, both included).
#[derive(Debug, Clone)]
pub struct OrderList {
    pub from: Date,
    pub to: Date,
    pub zone: TimeZone,
    pub orders: Vec<OrderRecord>,
}

/// The first instant of `date` in `zone`.
fn start_of(date: Date, zone: &TimeZone) -> Option<Timestamp> {
    Some(date.to_zoned(zone.clone()).ok()?.timestamp())
}

impl Services {
    /// The projects whose cost `viewer` may see: every project for an
    /// admin, else their own; by name.
    pub async fn cost_projects(
        &self,
        viewer: &UserRecord,
    ) -> Result<Vec<CostProject>, ServiceError> {
        let viewer = viewer.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let all = if viewer.is_admin {
                    projects::all_read_tx(tx)?
                } else {
                    projects::of_user_read_tx(tx, viewer.id)?
                };
                let mut out: Vec<CostProject> = all
                    .into_iter()
                    .filter(|p| !p.deleted)
                    .map(|p| CostProject {
                        id: p.id,
                        name: p.name,
                    })
                    .collect();
                out.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(out)
            })
        })
        .await
    }

    /// The cost of `project` in `month` (default: this month in the
    /// platform zone): running hours × the hourly price each container and
    /// job was ordered at. Managers and admins see every member's, members
    /// their own (the permission table's View of a workload).
    pub async fn cost_report(
        &self,
        viewer: &UserRecord,
        project: ProjectId,
        month: Option<Month>,
    ) -> Result<CostReport, ServiceError> {
        let viewer = viewer.clone();
        let now = self.clock.now();
        self.blocking(move |store| {
            store.read(|tx| {
                let p = live_project_read_tx(tx, project)?;
                let role = role_of(&viewer);
                let membership = p.role_of(viewer.id);
                if !permits_project(role, membership, ProjectAction::View) {
                    return Err(ServiceError::NotFound);
                }
                let settings = platform::get_read_tx(tx)?;
                let zone = TimeZone::get(&settings.time_zone).unwrap_or(TimeZone::UTC);
                let month = month.unwrap_or_else(|| Month::of(now, &zone));
                let (from, to) = month.bounds(&zone).ok_or_else(|| {
                    ServiceError::Invalid(FieldErrors::single("month", "cost.error.month"))
                })?;
                let sees = |owner: UserId| {
                    permits_workload(role, membership, owner == viewer.id, WorkloadAction::View)
                };
                let whole_project = permits_workload(role, membership, false, WorkloadAction::View);
                let mut lines = Vec::new();
                for order in orders::of_project_read_tx(tx, p.id)? {
                    if !order.kind.is_hourly() || !sees(order.owner) {
                        continue;
                    }
                    let intervals =
                        runs::of_workload_read_tx(tx, WorkloadId::from_u128(order.id.as_u128()))?;
                    let running_ms = cost::running_ms(&intervals, from, to, now);
                    if running_ms == 0 {
                        continue;
                    }
                    let hourly_milli = order.price.total_milli();
                    lines.push(CostLine {
                        id: order.id,
                        kind: order.kind,
                        name: order.name,
                        owner_name: order.owner_name,
                        hourly_milli,
                        running_ms,
                        cost_milli: cost::cost_milli(running_ms, hourly_milli),
                    });
                }
                lines.sort_by(|a, b| {
                    (&a.owner_name, &a.name, a.id).cmp(&(&b.owner_name, &b.name, b.id))
                });
                let mut members: Vec<MemberCost> = Vec::new();
                for line in &lines {
                    match members.last_mut() {
                        Some(m) if m.owner_name == line.owner_name => {
                            m.running_ms += line.running_ms;
                            m.cost_milli += line.cost_milli;
                        }
                        _ => members.push(MemberCost {
                            owner_name: line.owner_name.clone(),
                            running_ms: line.running_ms,
                            cost_milli: line.cost_milli,
                        }),
                    }
                }
                Ok(CostReport {
                    project: p.id,
                    project_name: p.name,
                    month,
                    currency: settings.currency,
                    zone,
                    whole_project,
                    total_ms: lines.iter().map(|l| l.running_ms).sum(),
                    total_milli: lines.iter().map(|l| l.cost_milli).sum(),
                    lines,
                    members,
                })
            })
        })
        .await
    }

    /// The orders `viewer` placed or owns, created from the start of `from`
    /// to the end of `to` (dates in the platform zone; by default the last
    /// [`ORDER_PERIOD_DAYS_DEFAULT`] days), newest first; the period is at
    /// most [`ORDER_PERIOD_DAYS_MAX`] days.
    pub async fn orders(
        &self,
        viewer: &UserRecord,
        from: Option<Date>,
        to: Option<Date>,
    ) -> Result<OrderList, ServiceError> {
        let zone = self.time_zone().await?;
        let today = self.clock.now().to_zoned(zone.clone()).date();
        let to = to.unwrap_or(today);
        let from = from.unwrap_or_else(|| {
            to.checked_sub((ORDER_PERIOD_DAYS_DEFAULT - 1).days())
                .unwrap_or(to)
        });
        if to < from {
            return Err(ServiceError::Invalid(FieldErrors::single(
                "to",
                "order.error.to_before_from",
            )));
        }
        if (to - from).get_days() >= ORDER_PERIOD_DAYS_MAX {
            return Err(ServiceError::Invalid(FieldErrors::single(
                "to",
                "order.error.too_long",
            )));
        }
        let bounds = to
            .checked_add(1.day())
            .ok()
            .and_then(|end| Some((start_of(from, &zone)?, start_of(end, &zone)?)));
        let Some((start, end)) = bounds else {
            return Err(ServiceError::Invalid(FieldErrors::single(
                "from",
                "order.error.date",
            )));
        };
        let viewer = viewer.clone();
        let orders = self
            .blocking(move |store| {
                store.read(|tx| {
                    let mut found: Vec<OrderRecord> = orders::of_user_read_tx(tx, viewer.id)?
                        .into_iter()
                        .filter(|o| o.created_at >= start && o.created_at < end)
                        .collect();
                    found.reverse();
                    Ok(found)
                })
            })
            .await?;
        Ok(OrderList {
            from,
            to,
            zone,
            orders,
        })
    }

    /// One of `viewer`'s orders with the events of its workload; another
    /// person's order is not found.
    pub async fn order(
        &self,
        viewer: &UserRecord,
        id: OrderId,
    ) -> Result<OrderDetail, ServiceError> {
        let viewer = viewer.clone();
        self.blocking(move |store| {
            store.read(|tx| {
                let order = orders::get_read_tx(tx, id)?
                    .filter(|o| o.owner == viewer.id || o.ordered_by == viewer.id)
                    .ok_or(ServiceError::NotFound)?;
                let events = match order.kind {
                    OrderKind::Volume => None,
                    _ => workloads::get_read_tx(tx, WorkloadId::from_u128(id.as_u128()))?
                        .map(|w| w.events),
                };
                Ok(OrderDetail { order, events })
            })
        })
        .await
    }
}

//! Account Management › Order Record (manual §6.2): the orders one placed
//! or owns in a period of purchase time, and one order's detail — its
//! configuration and hourly price then, and the provisioning events of the
//! workload while it exists.

use jiff::tz::TimeZone;
use maud::{Markup, html};

use super::components::{BadgeColor, badge};
use super::cost::{kind_key, money};
use super::format;
use super::layout::{Crumb, Shell, page};
use crate::i18n::Tr;
use crate::service::cost::OrderDetail;
use crate::store::orders::OrderRecord;
use crate::web::paths;

/// What the list page shows.
pub struct OrdersView<'a> {
    /// The period's fields as typed (`YYYY-MM-DD`).
    pub from: &'a str,
    pub to: &'a str,
    /// Why the period was not read (a translation key).
    pub error: Option<&'static str>,
    pub orders: &'a [OrderRecord],
    pub zone: &'a TimeZone,
}

fn crumbs<'a>(tr: Tr<'a>, last: Option<&'a str>) -> Vec<Crumb<'a>> {
    let mut crumbs = vec![
        Crumb {
            label: tr.t("nav.section.account"),
            href: None,
        },
        Crumb {
            label: tr.t("nav.orders"),
            href: Some(paths::ORDERS),
        },
    ];
    if let Some(label) = last {
        crumbs.push(Crumb { label, href: None });
    }
    crumbs
}

pub fn list(shell: &Shell, view: &OrdersView) -> Markup {
    let tr = shell.tr;
    let zone = format::zone_name(view.zone);
    page(
        shell,
        tr.t("nav.orders"),
        &crumbs(tr, None),
        html! {
            p class="lead" { (tr.t("order.explain")) }
            form method="get" action=(paths::ORDERS) class="toolbar order-filter" {
                div.field.has-error[view.error.is_some()] {
                    label for="f-from" { (tr.t("order.from")) }
                    input id="f-from" name="from" type="date" value=(view.from) required
                        aria-invalid=[view.error.map(|_| "true")]
                        aria-describedby=[view.error.map(|_| "period-error")];
                }
                div.field.has-error[view.error.is_some()] {
                    label for="f-to" { (tr.t("order.to")) }
                    input id="f-to" name="to" type="date" value=(view.to) required
                        aria-invalid=[view.error.map(|_| "true")]
                        aria-describedby=[view.error.map(|_| "period-error")];
                }
                button type="submit" class="btn" { (tr.t("order.show")) }
            }
            @if let Some(key) = view.error {
                p class="field-error" id="period-error" role="alert" {
                    (tr.f(key, &[("days", &crate::domain::cost::ORDER_PERIOD_DAYS_MAX.to_string())]))
                }
            }
            p class="muted" { (tr.f("order.period", &[("from", view.from), ("to", view.to), ("zone", &zone), ("count", &view.orders.len().to_string())])) }
            @if view.orders.is_empty() {
                p { (tr.t("order.none")) }
            } @else {
                div class="table-wrap" {
                    table class="table order-table" {
                        thead { tr {
                            th scope="col" { (tr.t("order.purchase_time")) }
                            th scope="col" { (tr.t("order.name")) }
                            th scope="col" { (tr.t("order.type")) }
                            th scope="col" { (tr.t("order.project")) }
                            th scope="col" { (tr.t("order.owner")) }
                            th scope="col" { (tr.t("order.hourly_price")) }
                        } }
                        tbody {
                            @for o in view.orders {
                                tr {
                                    td class="nowrap" { (format::date_time(o.created_at, view.zone)) }
                                    th scope="row" { a href=(paths::order(o.id)) { (o.name) } }
                                    td { (tr.t(kind_key(o.kind))) }
                                    td { (o.project_name) }
                                    td { (o.owner_name) }
                                    td { (price_text(o)) }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The hourly price of an order, or "—" for what is not priced by the hour.
fn price_text(order: &OrderRecord) -> String {
    if order.kind.is_hourly() {
        money(&order.currency, order.price.total_milli())
    } else {
        "—".to_owned()
    }
}

pub fn detail(shell: &Shell, detail: &OrderDetail, zone: &TimeZone) -> Markup {
    let tr = shell.tr;
    let o = &detail.order;
    page(
        shell,
        &o.name,
        &crumbs(tr, Some(&o.name)),
        html! {
            section class="panel" aria-labelledby="order-summary" {
                h2 id="order-summary" { (tr.t("order.summary")) }
                dl class="order-detail" {
                    dt { (tr.t("order.type")) } dd { (tr.t(kind_key(o.kind))) }
                    dt { (tr.t("order.project")) } dd { (o.project_name) }
                    dt { (tr.t("order.owner")) } dd { (o.owner_name) }
                    dt { (tr.t("order.purchase_time")) } dd { (format::date_time(o.created_at, zone)) }
                    @if o.kind.is_hourly() {
                        dt { (tr.t("order.spec_price")) }
                        dd { (money(&o.currency, o.price.spec_milli)) }
                        @if let Some(gpu) = &o.price.gpu_type {
                            dt { (tr.f("order.gpu_price", &[("gpu", gpu)])) }
                            dd { (money(&o.currency, o.price.gpu_milli)) }
                        }
                        dt { (tr.t("order.hourly_price")) }
                        dd id="order-hourly" { (money(&o.currency, o.price.total_milli())) }
                        @if o.price.spec_name.is_none() {
                            dd class="muted" { (tr.t("order.no_spec")) }
                        }
                    }
                }
            }
            section class="panel" aria-labelledby="order-config" {
                h2 id="order-config" { (tr.t("order.configuration")) }
                dl class="order-detail" {
                    @for item in &o.config {
                        dt { (tr.t(&item.label)) }
                        dd {
                            @if item.value_is_key { (tr.t(&item.value)) } @else { (item.value) }
                        }
                    }
                }
            }
            section class="panel" aria-labelledby="order-events" {
                h2 id="order-events" { (tr.t("order.events")) }
                @match &detail.events {
                    None => p class="muted" { (tr.t("order.no_workload")) },
                    Some(events) if events.is_empty() => p class="muted" { (tr.t("order.no_events")) },
                    Some(events) => div class="table-scroll" {
                        table class="table" {
                            thead { tr {
                                th scope="col" { (tr.t("container.event_time")) }
                                th scope="col" { (tr.t("container.event_type")) }
                                th scope="col" { (tr.t("container.event_reason")) }
                                th scope="col" { (tr.t("container.event_message")) }
                            } }
                            tbody {
                                @for e in events.iter().rev() {
                                    tr {
                                        td class="nowrap" { (format::date_time(e.at, zone)) }
                                        td {
                                            @if e.warning { (badge(BadgeColor::Amber, tr.t("container.event_warning"))) }
                                            @else { (badge(BadgeColor::Grey, tr.t("container.event_normal"))) }
                                        }
                                        td lang="en" { (e.reason) }
                                        td lang="en" { (e.message) }
                                    }
                                }
                            }
                        }
                    },
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::domain::cost::HourlyPrice;
    use crate::domain::ids::{OrderId, ProjectId, UserId};
    use crate::domain::user::Lang;
    use crate::store::orders::{ConfigItem, OrderKind};
    use crate::web::views::test_support::{member, shell};

    fn order() -> OrderRecord {
        OrderRecord {
            id: OrderId::from_u128(1),
            kind: OrderKind::Container,
            project: ProjectId::from_u128(2),
            project_name: "Vision".into(),
            owner: UserId::from_u128(3),
            owner_name: "bob".into(),
            ordered_by: UserId::from_u128(3),
            name: "nb<1>".into(),
            created_at: Timestamp::UNIX_EPOCH,
            config: vec![ConfigItem {
                label: "order.config.image".into(),
                value: "ubuntu:24.04".into(),
                value_is_key: false,
            }],
            price: HourlyPrice {
                spec_name: None,
                spec_milli: 2_000,
                gpu_type: Some("T4".into()),
                gpu_milli: 500,
            },
            currency: "TWD".into(),
        }
    }

    #[test]
    fn the_list_names_the_zone_and_links_each_order() {
        let s = shell(Lang::ZhTw, member());
        let zone = TimeZone::get("Asia/Taipei").unwrap_or(TimeZone::UTC);
        let orders = [order()];
        let html = list(
            &s,
            &OrdersView {
                from: "1970-01-01",
                to: "1970-01-02",
                error: None,
                orders: &orders,
                zone: &zone,
            },
        )
        .into_string();
        assert!(html.contains("Asia/Taipei"));
        assert!(html.contains("nb&lt;1&gt;"));
        assert!(html.contains(&paths::order(OrderId::from_u128(1))));
        assert!(html.contains("TWD 2.5"));
    }

    #[test]
    fn the_detail_shows_the_price_parts_and_says_when_the_workload_is_gone() {
        let s = shell(Lang::En, member());
        let detail = OrderDetail {
            order: order(),
            events: None,
        };
        let html = detail_page(&s, &detail);
        assert!(html.contains("TWD 2.5") && html.contains("TWD 0.5"));
        assert!(html.contains("ubuntu:24.04"));
        assert!(html.contains(s.tr.t("order.no_spec")));
        assert!(html.contains(s.tr.t("order.no_workload")));
    }

    fn detail_page(s: &Shell, d: &OrderDetail) -> String {
        detail(s, d, &TimeZone::UTC).into_string()
    }
}

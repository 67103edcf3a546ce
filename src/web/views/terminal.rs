//! A container's web terminal: the whole height of the page, the
//! container's name and a way back to it. The terminal itself is xterm.js
//! (vendored in `assets/static/vendor/xterm/`), driven by `terminal.js`.

use maud::{Markup, html};

use super::components::{Tone, notice};
use super::layout::{Crumb, Shell, page as shell_page};
use crate::service::terminal::TerminalTarget;
use crate::web::{assets, paths};

pub fn page(shell: &Shell, target: &TerminalTarget) -> Markup {
    let tr = shell.tr;
    let id = target.spec.meta.id;
    let name = target.spec.meta.name.as_str();
    let title = tr.f("webterm.title", &[("name", name)]);
    let container = paths::container(id);
    shell_page(
        shell,
        &title,
        &[
            Crumb {
                label: tr.t("nav.containers"),
                href: Some(paths::CONTAINERS),
            },
            Crumb {
                label: name,
                href: Some(&container),
            },
            Crumb {
                label: tr.t("webterm.crumb"),
                href: None,
            },
        ],
        html! {
            div class="terminal-page" {
                div class="terminal-bar" {
                    h1 { (title) }
                    a class="btn" href=(container) { (tr.t("webterm.back")) }
                }
                @if target.running {
                    p id="terminal-status" class="terminal-status" role="status" {
                        (tr.t("webterm.connecting"))
                    }
                    div id="terminal" class="terminal"
                        data-ws=(paths::container_terminal_ws(id))
                        data-connected=(tr.t("webterm.connected"))
                        data-closed=(tr.t("webterm.closed"))
                        role="region" aria-label=(tr.t("webterm.label")) {}
                    noscript { (notice(Tone::Info, html! { (tr.t("webterm.needs_script")) })) }
                    link rel="stylesheet" href=(assets::url("vendor/xterm/xterm.css"));
                    script src=(assets::url("vendor/xterm/xterm.js")) defer {}
                    script src=(assets::url("vendor/xterm/addon-fit.js")) defer {}
                    script src=(assets::url("terminal.js")) defer {}
                } @else {
                    (notice(Tone::Warning, html! { (tr.t("webterm.not_running")) }))
                }
            }
        },
    )
}

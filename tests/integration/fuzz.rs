//! Fuzzing on stable Rust, as CI runs it: the targets of
//! `tests/fuzz/targets.rs` (shared with the cargo-fuzz crate in `fuzz/`)
//! on seeded random input — random bytes, and mutations of real input (the
//! DCGM fixtures, a public key, `config.example.toml`, form bodies) — for a
//! bounded number of cases per target (`MLSTACK_FUZZ_CASES`, 3000 by
//! default; `MLSTACK_FUZZ_SEED` picks another sequence). A failing case
//! names its seed and input; inputs that once failed stay below as
//! regression cases.

#[path = "../fuzz/targets.rs"]
mod targets;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Pieces that parsers of these formats treat specially.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "\"",
    "\\",
    "=",
    ",",
    "\n",
    "#",
    " ",
    "NaN",
    "+Inf",
    "-Inf",
    "-1",
    "1e309",
    "9223372036854775807",
    "18446744073709551615",
    "%",
    "%00",
    "%ZZ",
    "&",
    "\0",
    "[",
    "]",
    "'",
    "ssh-rsa ",
    "AAAA",
    "é",
    "\u{202e}",
    "[mail]",
    "[cluster]",
    "=\"\"",
    "+",
    "\r",
    "*",
    "*/",
    "-",
    "L",
    "W",
    "?",
    "60",
    "SUN",
];

/// Inputs that once made a target fail: (target, input).
const REGRESSIONS: &[(&str, &[u8])] = &[];

fn cases() -> usize {
    std::env::var("MLSTACK_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

fn seed() -> u64 {
    std::env::var("MLSTACK_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(13)
}

/// `seed` changed a few times: bytes flipped, tokens inserted, spans
/// deleted or repeated, cut short.
fn mutate(rng: &mut StdRng, seed: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..rng.random_range(1..8) {
        let at = if out.is_empty() {
            0
        } else {
            rng.random_range(0..out.len())
        };
        match rng.random_range(0..6) {
            0 if !out.is_empty() => out[at] ^= 1 << rng.random_range(0..8),
            1 => {
                let token = TOKENS[rng.random_range(0..TOKENS.len())];
                out.splice(at..at, token.bytes());
            }
            2 if !out.is_empty() => {
                let end = (at + rng.random_range(1..16)).min(out.len());
                out.drain(at..end);
            }
            3 if !out.is_empty() => {
                let end = (at + rng.random_range(1..32)).min(out.len());
                let span = out[at..end].to_vec();
                out.splice(at..at, span);
            }
            4 => out.truncate(at),
            _ => {
                let byte: u8 = rng.random();
                out.insert(at, byte);
            }
        }
    }
    out
}

/// Runs `target` on its seeds, the regressions of `name`, and `cases()`
/// random and mutated inputs.
fn run(name: &str, target: fn(&[u8]), seeds: &[&[u8]]) {
    let check = |input: &[u8], what: &str| {
        if std::panic::catch_unwind(|| target(input)).is_err() {
            panic!(
                "fuzz target {name} fails on {what} (MLSTACK_FUZZ_SEED={}): {:?}",
                seed(),
                String::from_utf8_lossy(input)
            );
        }
    };
    for s in seeds {
        check(s, "a seed");
    }
    for (_, input) in REGRESSIONS.iter().filter(|(t, _)| *t == name) {
        check(input, "a regression case");
    }
    let mut rng = StdRng::seed_from_u64(seed());
    for case in 0..cases() {
        let input = if case % 4 == 0 {
            let len = rng.random_range(0..256);
            (0..len).map(|_| rng.random()).collect()
        } else {
            let pick = rng.random_range(0..seeds.len());
            mutate(&mut rng, seeds[pick])
        };
        check(&input, &format!("case {case}"));
    }
}

#[test]
fn exposition_text() {
    run(
        "exposition",
        targets::exposition,
        &[
            include_bytes!("../fixtures/dcgm/kops-aws-l4-gpu-operator.txt"),
            include_bytes!("../fixtures/dcgm/ericsson-ccd-t4-under-load.txt"),
            include_bytes!("../fixtures/dcgm/upcloud-l40s.txt"),
            include_bytes!("../fixtures/dcgm/datadog-integrations-core-dcgm-metrics.txt"),
            b"DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",UUID=\"GPU-1\",Hostname=\"a,b=c}\"} 42\n",
        ],
    );
}

#[test]
fn ssh_public_keys_and_key_pair_names() {
    run(
        "ssh_public_key",
        targets::ssh_public_key,
        &[
            b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti user@example",
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n",
            b"work-2024_rsa.key",
        ],
    );
}

#[test]
fn form_bodies() {
    run(
        "form",
        targets::form,
        &[
            b"\x00category=personal&first_name=Mei&last_name=Lin&email=mei%40lab.example&phone=%2B886+2",
            b"\x01name=Tesla+P4&resource_name=nvidia.com%2Fgpu&sharing=whole&memory_gb=8&allowed_counts=1%2C2%2C4&price=0.5",
            b"\x02name=a100.1g&cpu_cores=0.5&ram_gb=0.5&price=1.25",
            b"\x03name=pytorch%2Fpytorch&versions=2.4.0%0Alatest&ssh_login=key_pair&services=jupyterlab+8888+http+JupyterLab",
            b"\x04name=NFS&storage_class=nfs-client&min_gib=1&max_gib=500",
            b"\x05name=laptop&public_key=ssh-ed25519+AAAAC3NzaC1lZDI1NTE5AAAAILM%2BrvN%2Bot98qgEN796jTiQfZfG1KaT0PtFDJ%2FXFSqti",
            b"\x06days=7&reason=more+time&start=2026-12-01&end=2026-12-31&from=2026-12-01&to=2026-12-02",
        ],
    );
}

#[test]
fn configuration() {
    let example = include_bytes!("../../config.example.toml");
    let mut with_env = example.to_vec();
    with_env.extend_from_slice(b"\0MLSTACK_LISTEN=127.0.0.1:0\nMLSTACK_DATA_DIR=/tmp/x\n");
    run(
        "config",
        targets::config,
        &[
            example,
            &with_env,
            b"listen = \"[::]:8080\"\n[mail]\nhost = \"smtp\"\n",
        ],
    );
}

#[test]
fn cron_expressions() {
    run(
        "cron",
        targets::cron,
        &[
            b"\x000 20 * * *",
            b"\x01*/15 9-17 * * 1-5",
            b"\x020 0 29 2 *",
            b"\x030 2 31 * 0,6",
            b"\x0130 1,2,3 1 1,4,7,10 *",
            b"\x005 4 * * 7",
        ],
    );
}

//! DCGM exporter output (the Prometheus text exposition format) read into
//! one [`GpuReading`] per GPU.
//!
//! Lines are classified by `prometheus-parse` (`LineInfo`); label sets are
//! read here, because its own label splitting breaks a quoted value holding
//! a comma or `=` (shown by a test below). Nothing is trusted: a malformed
//! line, a NaN, an infinite or out-of-range value, or a GPU reported twice is
//! left out and named in [`DcgmScrape::problems`], which marks the source
//! unhealthy with the reason.

use std::collections::{BTreeMap, HashMap, HashSet};

use prometheus_parse::LineInfo;

use crate::domain::metrics::GpuReading;

/// GPU utilization in percent.
pub const GPU_UTIL: &str = "DCGM_FI_DEV_GPU_UTIL";
/// Frame buffer memory used, in MiB.
pub const FB_USED: &str = "DCGM_FI_DEV_FB_USED";

/// How many problems are kept (the rest are counted).
const PROBLEMS_KEPT: usize = 5;

/// What one scrape said of each GPU, and what was wrong with it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DcgmScrape {
    pub gpus: Vec<GpuReading>,
    /// Lines that did not parse, values that were not valid, duplicates.
    pub problems: Vec<String>,
    /// Problems beyond the ones kept.
    pub more_problems: usize,
}

impl DcgmScrape {
    /// Notes a problem (the first few are kept, the rest counted).
    pub fn note(&mut self, text: String) {
        if self.problems.len() < PROBLEMS_KEPT {
            self.problems.push(text);
        } else {
            self.more_problems += 1;
        }
    }

    /// The problems in one line, for the source's status.
    pub fn problem_summary(&self) -> Option<String> {
        if self.problems.is_empty() {
            return None;
        }
        let mut text = self.problems.join("; ");
        if self.more_problems > 0 {
            text.push_str(&format!(" (and {} more)", self.more_problems));
        }
        Some(text)
    }
}

/// A GPU as one label set names it: its slot in the scrape's readings.
type Identity = Result<Option<usize>, String>;

/// Reads a DCGM exporter scrape. GPUs are keyed by host and UUID (the `gpu`
/// index when there is no UUID); series without either are not GPUs and are
/// skipped. Every field of a GPU carries the same label set, so each label
/// set is read once and remembered by its text.
pub fn parse(text: &str) -> DcgmScrape {
    let mut scrape = DcgmScrape::default();
    let mut readings: Vec<GpuReading> = Vec::new();
    let mut slots: HashMap<(String, String), usize> = HashMap::new();
    let mut identities: HashMap<&str, Identity> = HashMap::new();
    let mut seen: HashSet<(usize, &'static str)> = HashSet::new();
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (name, labels, value) = match LineInfo::parse(trimmed) {
            LineInfo::Sample {
                metric_name,
                labels,
                value,
                ..
            } => (metric_name, labels, value),
            _ => {
                scrape.note(format!("line {}: not a sample", number + 1));
                continue;
            }
        };
        let field = match name {
            GPU_UTIL => Some(GPU_UTIL),
            FB_USED => Some(FB_USED),
            _ => None,
        };
        // The label set sits between the first `{` and the value; the
        // regex's capture stops at the first `}`, so it is read again here.
        let label_set = match labels.map(|_| label_text(trimmed)).transpose() {
            Ok(text) => text.unwrap_or(""),
            Err(e) => {
                scrape.note(format!("line {}: {e}", number + 1));
                continue;
            }
        };
        let identity = identities
            .entry(label_set)
            .or_insert_with(|| identify(label_set, &mut readings, &mut slots));
        let slot = match identity {
            Ok(Some(slot)) => *slot,
            Ok(None) => continue,
            Err(e) => {
                scrape.note(format!("line {}: {e}", number + 1));
                continue;
            }
        };
        // Any other DCGM field is read only for the GPU's identity and pod.
        let Some(field) = field else { continue };
        let entry = &mut readings[slot];
        let key = entry.uuid.clone();
        if !seen.insert((slot, field)) {
            scrape.note(format!(
                "line {}: {field} of GPU {key} on {:?} reported twice; the first kept",
                number + 1,
                entry.host
            ));
            continue;
        }
        let number_value = value.trim().parse::<f64>().ok();
        let valid = match (field, number_value) {
            (GPU_UTIL, Some(v)) if v.is_finite() && (0.0..=100.0).contains(&v) => Some(v),
            (FB_USED, Some(v)) if v.is_finite() && v >= 0.0 => Some(v),
            _ => None,
        };
        match valid {
            Some(v) if field == GPU_UTIL => entry.util_pct = Some(v),
            Some(v) => entry.mem_used_mib = Some(v),
            None => scrape.note(format!(
                "line {}: {field} of GPU {key} is {value:?}, not a valid value",
                number + 1
            )),
        }
    }
    let mut order: Vec<((String, String), usize)> = slots.into_iter().collect();
    order.sort();
    let mut readings: Vec<Option<GpuReading>> = readings.into_iter().map(Some).collect();
    scrape.gpus = order
        .into_iter()
        .filter_map(|(_, slot)| readings[slot].take())
        .collect();
    scrape
}

/// Reads a label set for the GPU it names (None: not a GPU), finding or
/// adding its reading; the first label set with a pod gives the GPU its pod.
fn identify(
    label_set: &str,
    readings: &mut Vec<GpuReading>,
    slots: &mut HashMap<(String, String), usize>,
) -> Identity {
    let labels = if label_set.is_empty() {
        BTreeMap::new()
    } else {
        parse_labels(label_set)?
    };
    let Some(index) = labels.get("gpu").and_then(|g| g.parse::<u32>().ok()) else {
        return Ok(None);
    };
    let uuid = labels.get("UUID").cloned();
    let key = uuid.clone().unwrap_or_else(|| index.to_string());
    let host = labels
        .get("Hostname")
        .or_else(|| labels.get("hostname"))
        .cloned()
        .unwrap_or_default();
    let slot = *slots.entry((host.clone(), key.clone())).or_insert_with(|| {
        readings.push(GpuReading {
            host,
            uuid: uuid.unwrap_or(key),
            index,
            pod: None,
            util_pct: None,
            mem_used_mib: None,
        });
        readings.len() - 1
    });
    let reading = &mut readings[slot];
    if reading.pod.is_none()
        && let (Some(ns), Some(pod)) = (labels.get("namespace"), labels.get("pod"))
        && !ns.is_empty()
        && !pod.is_empty()
    {
        reading.pod = Some((ns.clone(), pod.clone()));
    }
    Ok(Some(slot))
}

/// The text between a sample line's first `{` and its matching `}` (quoted
/// values may hold `}`).
pub(super) fn label_text(line: &str) -> Result<&str, String> {
    let start = line.find('{').ok_or("no label set")?;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in line[start + 1..].char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '}' if !in_quotes => return Ok(&line[start + 1..start + 1 + i]),
            _ => {}
        }
    }
    Err("the label set is not closed".to_owned())
}

/// `name="value",…` with the format's escapes (`\\`, `\"`, `\n`).
pub(super) fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let eq = rest.find('=').ok_or("a label without a value")?;
        let name = rest[..eq].trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("{name:?} is not a label name"));
        }
        let after = rest[eq + 1..].trim_start();
        let mut chars = after.char_indices();
        if chars.next().map(|(_, c)| c) != Some('"') {
            return Err(format!("the value of label {name} is not quoted"));
        }
        let mut value = String::new();
        let mut end = None;
        let mut escaped = false;
        for (i, c) in chars {
            if escaped {
                value.push(if c == 'n' { '\n' } else { c });
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                end = Some(i);
                break;
            } else {
                value.push(c);
            }
        }
        let end = end.ok_or_else(|| format!("the value of label {name} is not closed"))?;
        labels.insert(name.to_owned(), value);
        rest = after[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KOPS: &str = include_str!("../../../tests/fixtures/dcgm/kops-aws-l4-gpu-operator.txt");
    const ERICSSON: &str =
        include_str!("../../../tests/fixtures/dcgm/ericsson-ccd-t4-under-load.txt");
    const UPCLOUD: &str = include_str!("../../../tests/fixtures/dcgm/upcloud-l40s.txt");
    const DATADOG: &str =
        include_str!("../../../tests/fixtures/dcgm/datadog-integrations-core-dcgm-metrics.txt");

    #[test]
    fn the_gpu_operator_scrape_of_an_idle_l4() {
        let scrape = parse(KOPS);
        assert_eq!(scrape.problems, Vec::<String>::new());
        assert_eq!(scrape.gpus.len(), 1);
        let gpu = &scrape.gpus[0];
        assert_eq!(gpu.uuid, "GPU-c2f76b33-7953-256e-8f33-1343419b1a1c");
        assert_eq!(gpu.host, "i-030791dc5a37cd257");
        assert_eq!(gpu.index, 0);
        assert_eq!(gpu.pod, None);
        assert_eq!(gpu.util_pct, Some(0.0));
        assert!(gpu.mem_used_mib.is_some());
    }

    #[test]
    fn a_t4_under_load_without_help_or_type_lines() {
        let scrape = parse(ERICSSON);
        assert_eq!(scrape.problems, Vec::<String>::new());
        assert_eq!(scrape.gpus.len(), 1);
        assert_eq!(scrape.gpus[0].util_pct, Some(91.0));
        assert_eq!(scrape.gpus[0].mem_used_mib, Some(5120.0));
        assert_eq!(scrape.gpus[0].host, "cp-bm14r7");
    }

    #[test]
    fn the_helm_chart_scrape_of_an_l40s() {
        let scrape = parse(UPCLOUD);
        assert_eq!(scrape.problems, Vec::<String>::new());
        assert_eq!(scrape.gpus.len(), 1);
        assert_eq!(
            scrape.gpus[0].uuid,
            "GPU-5b4e07f6-3a86-4340-039d-25f2a83cdc43"
        );
        assert_eq!(scrape.gpus[0].util_pct, Some(0.0));
    }

    /// Two exporter versions' T4 blocks, a block without labels (not a
    /// GPU: skipped) and an A10G line mapped to a Kubernetes pod.
    #[test]
    fn the_datadog_fixture_with_a_pod_mapped_gpu() {
        let scrape = parse(DATADOG);
        assert_eq!(scrape.problems, Vec::<String>::new());
        let a10g = scrape
            .gpus
            .iter()
            .find(|g| g.uuid == "GPU-abc")
            .expect("the A10G");
        assert_eq!(
            a10g.pod,
            Some(("ray-llm".to_owned(), "ray-1111111".to_owned()))
        );
        assert_eq!(a10g.util_pct, None);
        let t4 = scrape
            .gpus
            .iter()
            .find(|g| g.uuid == "GPU-20c56d28-0da5-6d26-a36a-e7af1ce2586e")
            .expect("the first T4");
        assert_eq!(t4.util_pct, Some(0.0));
        assert_eq!(t4.mem_used_mib, Some(0.0));
    }

    const LINE: &str = r#"DCGM_FI_DEV_GPU_UTIL{gpu="1",UUID="GPU-x",Hostname="n1"} "#;

    #[test]
    fn nan_infinite_and_out_of_range_values_are_left_out_and_named() {
        for bad in ["NaN", "+Inf", "-Inf", "101", "-1", "ten"] {
            let scrape = parse(&format!("{LINE}{bad}\n"));
            assert_eq!(scrape.gpus.len(), 1, "{bad}");
            assert_eq!(scrape.gpus[0].util_pct, None, "{bad}");
            let summary = scrape.problem_summary().expect("a problem");
            assert!(summary.contains("not a valid value"), "{bad}: {summary}");
        }
    }

    #[test]
    fn a_duplicate_series_keeps_the_first_value_and_is_named() {
        let scrape = parse(&format!("{LINE}20\n{LINE}90\n"));
        assert_eq!(scrape.gpus[0].util_pct, Some(20.0));
        assert!(
            scrape
                .problem_summary()
                .is_some_and(|p| p.contains("reported twice"))
        );
    }

    #[test]
    fn malformed_text_is_named_and_never_panics() {
        let text = format!(
            "{LINE}5\nthis is not {{ a sample\nDCGM_FI_DEV_GPU_UTIL{{gpu=\"2\",UUID=\"GPU-y\n\u{0}\u{ffff}\n{{}}\n"
        );
        let scrape = parse(&text);
        assert_eq!(scrape.gpus.len(), 1);
        assert_eq!(scrape.gpus[0].util_pct, Some(5.0));
        assert!(scrape.problems.len() >= 2, "{:?}", scrape.problems);
        let many: String = (0..50).map(|i| format!("{{junk {i}\n")).collect();
        let scrape = parse(&many);
        assert_eq!(scrape.problems.len(), PROBLEMS_KEPT);
        assert!(
            scrape
                .problem_summary()
                .is_some_and(|p| p.ends_with("(and 45 more)"))
        );
    }

    /// Why the label sets are read here: `prometheus-parse` splits a label
    /// set on every `,` and `=`, so a valid quoted value holding either is
    /// lost; our reader keeps it.
    #[test]
    fn prometheus_parse_loses_quoted_commas_and_equals_signs() {
        let line = r#"DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-z",Hostname="n",pod="a,b",namespace="x=y"} 7"#;
        let scrape =
            prometheus_parse::Scrape::parse(std::iter::once(Ok(line.to_owned()))).expect("parsed");
        let theirs = &scrape.samples[0].labels;
        assert_ne!(theirs.get("pod"), Some("a,b"));
        assert_ne!(theirs.get("namespace"), Some("x=y"));
        let ours = parse(line);
        assert_eq!(ours.gpus[0].pod, Some(("x=y".to_owned(), "a,b".to_owned())));
        assert_eq!(ours.gpus[0].util_pct, Some(7.0));
    }

    #[test]
    fn escaped_quotes_in_label_values() {
        let labels = parse_labels(r#"a="x\"y",b="c\\d",c="}""#).expect("labels");
        assert_eq!(labels["a"], "x\"y");
        assert_eq!(labels["b"], "c\\d");
        assert_eq!(labels["c"], "}");
        assert!(parse_labels(r#"a=x"#).is_err());
        assert!(parse_labels(r#"a="x"#).is_err());
    }
}

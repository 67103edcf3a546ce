//! Kubernetes quantities ("500m", "256Gi", "1.5") as whole nano-units, so
//! sums and comparisons are exact.

use std::collections::BTreeMap;

use serde_json::Value;

/// One unit in nano-units.
pub const ONE: i128 = 1_000_000_000;

/// A set of named amounts: a node's allocatable resources, a pod's
/// requests, a namespace's quota usage.
pub type Amounts = BTreeMap<String, i128>;

/// Parses a quantity; `None` when it is not one.
pub fn parse(text: &str) -> Option<i128> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    if number.is_empty() || number == "." {
        return None;
    }
    let (negative, digits) = match number.as_bytes()[0] {
        b'-' => (true, &number[1..]),
        b'+' => (false, &number[1..]),
        _ => (false, number),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if (whole.is_empty() && fraction.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // Digits as an integer and the power of ten that scales it.
    let mantissa: i128 = format!("{whole}{fraction}").parse().ok()?;
    let mut exponent10: i32 = -(fraction.len() as i32);
    let mut factor: i128 = 1;
    match suffix {
        "" => {}
        "n" => exponent10 -= 9,
        "u" => exponent10 -= 6,
        "m" => exponent10 -= 3,
        "k" => exponent10 += 3,
        "M" => exponent10 += 6,
        "G" => exponent10 += 9,
        "T" => exponent10 += 12,
        "P" => exponent10 += 15,
        "E" => exponent10 += 18,
        "Ki" => factor = 1 << 10,
        "Mi" => factor = 1 << 20,
        "Gi" => factor = 1 << 30,
        "Ti" => factor = 1 << 40,
        "Pi" => factor = 1 << 50,
        "Ei" => factor = 1 << 60,
        exp if exp.starts_with(['e', 'E']) => exponent10 += exp[1..].parse::<i32>().ok()?,
        _ => return None,
    }
    // To nano-units: multiply by 10^(exponent10 + 9), rounding up a
    // remainder as Kubernetes does.
    let shift = exponent10 + 9;
    let scaled = if shift >= 0 {
        mantissa
            .checked_mul(factor)?
            .checked_mul(10i128.checked_pow(shift as u32)?)?
    } else {
        let divisor = 10i128.checked_pow((-shift) as u32)?;
        let product = mantissa.checked_mul(factor)?;
        (product + divisor - 1) / divisor
    };
    Some(if negative { -scaled } else { scaled })
}

/// Writes an amount the way a person would: `4`, `500m`, `256Gi`.
pub fn format(amount: i128) -> String {
    if amount % ONE != 0 {
        if amount % 1_000_000 == 0 {
            return format!("{}m", amount / 1_000_000);
        }
        return format!("{amount}n");
    }
    let whole = amount / ONE;
    const BINARY: [(&str, i128); 5] = [
        ("Pi", 1 << 50),
        ("Ti", 1 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ];
    if whole != 0 && whole.abs() >= 1 << 20 {
        for (suffix, size) in BINARY {
            if whole % size == 0 {
                return format!("{}{suffix}", whole / size);
            }
        }
    }
    whole.to_string()
}

/// The amounts of a `{"cpu": "2", "memory": "1Gi"}` map; entries that are
/// not quantities are left out (validation reports them).
pub fn amounts(map: Option<&Value>) -> Amounts {
    map.and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(name, value)| Some((name.clone(), parse(value.as_str()?)?)))
                .collect()
        })
        .unwrap_or_default()
}

/// Adds `other` into `total`.
pub fn add(total: &mut Amounts, other: &Amounts) {
    for (name, amount) in other {
        *total.entry(name.clone()).or_default() += amount;
    }
}

/// Takes `other` out of `total`, dropping what reaches zero.
pub fn subtract(total: &mut Amounts, other: &Amounts) {
    for (name, amount) in other {
        if let Some(entry) = total.get_mut(name) {
            *entry -= amount;
            if *entry == 0 {
                total.remove(name);
            }
        }
    }
}

/// What a pod asks for, as the scheduler counts it: per resource the sum
/// over its containers of the request, or the limit where no request is
/// given (Kubernetes defaults requests to limits).
pub fn pod_requests(pod: &Value) -> Amounts {
    let mut total = Amounts::new();
    for container in containers(pod) {
        add(&mut total, &container_requests(container));
    }
    total
}

/// What a pod takes from a node: its requests and one pod slot.
pub fn pod_footprint(pod: &Value) -> Amounts {
    let mut footprint = pod_requests(pod);
    footprint.insert("pods".into(), ONE);
    footprint
}

/// The sum of the containers' limits.
pub fn pod_limits(pod: &Value) -> Amounts {
    let mut total = Amounts::new();
    for container in containers(pod) {
        add(&mut total, &amounts(container.pointer("/resources/limits")));
    }
    total
}

/// One container's requests, limits standing in for missing requests.
pub fn container_requests(container: &Value) -> Amounts {
    let mut requests = amounts(container.pointer("/resources/limits"));
    requests.extend(amounts(container.pointer("/resources/requests")));
    requests
}

/// The containers of a pod (its spec's `containers`).
pub fn containers(pod: &Value) -> impl Iterator<Item = &Value> {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_to_nano_units_and_print_back() {
        assert_eq!(parse("2"), Some(2 * ONE));
        assert_eq!(parse("500m"), Some(ONE / 2));
        assert_eq!(parse("1.5"), Some(3 * ONE / 2));
        assert_eq!(parse("256Gi"), Some(256 * (1 << 30) * ONE));
        assert_eq!(parse("1k"), Some(1000 * ONE));
        assert_eq!(parse("1e3"), Some(1000 * ONE));
        assert_eq!(parse("abc"), None);
        assert_eq!(parse("1Xi"), None);
        assert_eq!(format(4 * ONE), "4");
        assert_eq!(format(ONE / 4), "250m");
        assert_eq!(format(parse("256Gi").expect("quantity")), "256Gi");
    }
}

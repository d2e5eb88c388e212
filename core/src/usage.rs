//! What a run's runner used and what that is estimated to cost: vCPU-seconds and
//! GB-seconds (the task's size times the time it ran, as Fargate bills) and a price from
//! the operator's unit prices.
//!
//! The defaults are Fargate's public on-demand prices (Linux, x86) for a few regions;
//! they are estimates for people to compare jobs, not an invoice: the operator sets the
//! prices their contract has (`HAKOBU_PRICE_PER_VCPU_HOUR`, `HAKOBU_PRICE_PER_GB_HOUR`).

use serde::{Deserialize, Serialize};

/// The price of one vCPU and one GB of memory for an hour, in `currency`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnitPrices {
    pub per_vcpu_hour: f64,
    pub per_gb_hour: f64,
    /// ISO 4217 code of both prices.
    pub currency: String,
    /// The region whose Fargate public list the prices are; `None`: the operator set them.
    #[serde(default)]
    pub fargate_list: Option<String>,
    /// The region asked for, when it has no list here (us-east-1's applies instead).
    #[serde(default)]
    pub unlisted_region: Option<String>,
}

/// Fargate's public on-demand prices (Linux/x86, USD per hour) by region, as AWS listed
/// them: (region, per vCPU-hour, per GB-hour).
const FARGATE_PRICES: &[(&str, f64, f64)] = &[
    ("us-east-1", 0.04048, 0.004445),
    ("us-east-2", 0.04048, 0.004445),
    ("us-west-2", 0.04048, 0.004445),
    ("eu-west-1", 0.04048, 0.004445),
    ("eu-central-1", 0.04656, 0.00511),
    ("ap-northeast-1", 0.05056, 0.00553),
];

impl UnitPrices {
    /// Fargate's public prices in `region`; regions not listed get us-east-1's, and
    /// `source` says so.
    pub fn fargate(region: &str) -> UnitPrices {
        let (listed, per_vcpu_hour, per_gb_hour) = FARGATE_PRICES
            .iter()
            .copied()
            .find(|(name, _, _)| *name == region)
            .unwrap_or(FARGATE_PRICES[0]);
        UnitPrices {
            per_vcpu_hour,
            per_gb_hour,
            currency: "USD".into(),
            fargate_list: Some(listed.to_owned()),
            unlisted_region: (listed != region).then(|| region.to_owned()),
        }
    }

    /// The operator's own prices.
    pub fn operator(per_vcpu_hour: f64, per_gb_hour: f64, currency: String) -> UnitPrices {
        UnitPrices {
            per_vcpu_hour,
            per_gb_hour,
            currency,
            fargate_list: None,
            unlisted_region: None,
        }
    }
}

/// What runs used: vCPU-seconds, GB-seconds and their estimated price.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Usage {
    pub vcpu_seconds: f64,
    pub gb_seconds: f64,
    /// The estimated price, in `currency`.
    pub price: f64,
    /// ISO 4217 code of `price`.
    pub currency: String,
}

impl Usage {
    /// A task of `vcpu` vCPUs and `memory_mb` MiB that ran `seconds`: GB as Fargate
    /// counts it (1 GB = 1024 MiB). A negative duration (clocks apart) counts as none.
    pub fn of_task(vcpu: f64, memory_mb: u32, seconds: f64, prices: &UnitPrices) -> Usage {
        Usage::from_totals(
            vcpu * seconds.max(0.0),
            f64::from(memory_mb) / 1024.0 * seconds.max(0.0),
            prices,
        )
    }

    /// Totals already summed (by the database, over many runs) priced.
    pub fn from_totals(vcpu_seconds: f64, gb_seconds: f64, prices: &UnitPrices) -> Usage {
        Usage {
            vcpu_seconds,
            gb_seconds,
            price: vcpu_seconds / 3600.0 * prices.per_vcpu_hour
                + gb_seconds / 3600.0 * prices.per_gb_hour,
            currency: prices.currency.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_is_billed_for_its_size_times_its_time() {
        let prices = UnitPrices::fargate("us-east-1");
        // 1 vCPU and 2 GB for an hour on the public list: 0.04048 + 2 * 0.004445.
        let hour = Usage::of_task(1.0, 2048, 3600.0, &prices);
        assert_eq!(hour.vcpu_seconds, 3600.0);
        assert_eq!(hour.gb_seconds, 7200.0);
        assert!((hour.price - 0.04937).abs() < 1e-9, "{}", hour.price);
        // A quarter vCPU with 512 MiB for 90 seconds.
        let small = Usage::of_task(0.25, 512, 90.0, &prices);
        assert_eq!(small.vcpu_seconds, 22.5);
        assert_eq!(small.gb_seconds, 45.0);
        let none = Usage::of_task(1.0, 1024, -5.0, &prices);
        assert_eq!(
            (none.vcpu_seconds, none.gb_seconds, none.price),
            (0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn an_unlisted_region_says_whose_prices_it_got() {
        let tokyo = UnitPrices::fargate("ap-northeast-1");
        assert_eq!(tokyo.per_vcpu_hour, 0.05056);
        assert_eq!(tokyo.fargate_list.as_deref(), Some("ap-northeast-1"));
        assert_eq!(tokyo.unlisted_region, None);
        let mars = UnitPrices::fargate("mars-1");
        assert_eq!(mars.per_vcpu_hour, 0.04048);
        assert_eq!(mars.fargate_list.as_deref(), Some("us-east-1"));
        assert_eq!(mars.unlisted_region.as_deref(), Some("mars-1"));
    }
}

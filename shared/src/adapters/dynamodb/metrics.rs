//! [`MetricsStore`] on DynamoDB: window reads over the environment index,
//! figure snapshots and once-only claims.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};

use super::{
    DynamoStore, GSI_ENV_TIME, Item, Read, decode_item, iso, n, next_page, s, sdk_error, written,
};
use crate::core::error::StoreError;
use crate::core::model::Environment;
use crate::metrics::dora::Figures;
use crate::ports::{MetricsStore, WindowRead};

fn metrics_pk(environment: Environment) -> String {
    format!("METRICS#{environment}")
}

fn latest_sk(window_days: u32) -> String {
    format!("LATEST#{window_days}d")
}

fn claim_sk(key: &str) -> String {
    format!("ONCE#{key}")
}

impl MetricsStore for DynamoStore {
    async fn deployments_between(
        &self,
        environment: Environment,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<WindowRead, StoreError> {
        let mut read = WindowRead::default();
        let mut start_key: Option<Item> = None;
        loop {
            // GSI1SK starts with the start time (fixed-width RFC 3339), so
            // the key condition selects exactly the window.
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI_ENV_TIME)
                .key_condition_expression("GSI1PK = :env AND GSI1SK BETWEEN :from AND :to")
                .expression_attribute_values(":env", s(format!("ENV#{environment}")))
                .expression_attribute_values(":from", s(iso(from)))
                .expression_attribute_values(":to", s(iso(to)))
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(sdk_error)?;
            read.items_read += out.scanned_count.max(out.count).max(0) as usize;
            for item in out.items.unwrap_or_default() {
                read.deployments.push(decode_item(item)?);
            }
            let Some(next) = next_page(out.last_evaluated_key) else {
                return Ok(read);
            };
            start_key = Some(next);
        }
    }

    async fn put_snapshot(&self, figures: &Figures, dated: bool) -> Result<(), StoreError> {
        let body = serde_json::to_string(figures)
            .map_err(|e| StoreError::Rejected(format!("cannot encode figures: {e}")))?;
        let (sk, expires) = if dated {
            // The day the window covers last (it ends at midnight).
            let day = figures.to - Duration::seconds(1);
            (
                format!(
                    "SNAPSHOT#{}d#{}",
                    figures.window_days,
                    day.format("%Y-%m-%d")
                ),
                Some(figures.to + Duration::days(400)),
            )
        } else {
            (latest_sk(figures.window_days), None)
        };
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("PK", s(metrics_pk(figures.environment)))
            .item("SK", s(sk))
            .item("entity", s("metrics"))
            .item("figures", s(body));
        if let Some(at) = expires {
            request = request.item("expires_at", n(at.timestamp()));
        }
        request.send().await.map_err(sdk_error)?;
        Ok(())
    }

    async fn latest_snapshot(
        &self,
        environment: Environment,
        window_days: u32,
    ) -> Result<Option<Figures>, StoreError> {
        let item = self
            .fetch(
                metrics_pk(environment),
                latest_sk(window_days),
                Read::Eventual,
            )
            .await?;
        let Some(item) = item else {
            return Ok(None);
        };
        let Some(AttributeValue::S(body)) = item.get("figures") else {
            return Err(StoreError::Corrupt(
                "a metrics snapshot without figures".into(),
            ));
        };
        serde_json::from_str(body)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    async fn claim_once(
        &self,
        environment: Environment,
        key: &str,
        days: u32,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("PK", s(metrics_pk(environment)))
            .item("SK", s(claim_sk(key)))
            .item("entity", s("once"))
            .item(
                "expires_at",
                n((Utc::now() + Duration::days(i64::from(days))).timestamp()),
            )
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        written(result.map_err(sdk_error))
    }

    async fn release_claim(&self, environment: Environment, key: &str) -> Result<(), StoreError> {
        self.remove(metrics_pk(environment), claim_sk(key)).await
    }
}

//! `in: {type: s3}`: every object whose key starts with `path_prefix` (sorted, after
//! `last_path`, matching `path_match_pattern`) is one task.

use super::{S3Credentials, S3Location, store, temp_path};
use crate::connectors::file::reader::read_file;
use crate::shared::source::{Source, Task, TaskState};
use crate::shared::stats::Expected;
use crate::types;
use anyhow::{Context, Result};
use futures::{FutureExt, StreamExt, TryStreamExt};
use hakobu_core::config::{Codec, ParserConfig, S3Input};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use std::io::Write;

/// Opens the source: lists the objects and plans one task per object.
pub async fn open(c: &S3Input) -> Result<Source> {
    let store = store(&S3Location {
        bucket: &c.bucket,
        virtual_hosted: false,
        endpoint: c.endpoint.as_deref(),
        region: c.region.as_deref(),
        credentials: S3Credentials::from_config(
            c.auth_method.as_deref(),
            c.access_key_id.as_ref(),
            c.secret_access_key.as_ref(),
            c.session_token.as_ref(),
            c.role_arn.as_deref(),
        )?,
    })?;
    let pattern = c
        .path_match_pattern
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .context("path_match_pattern: not a valid regular expression")?;
    // `list` takes a directory; the rest of the prefix filters names.
    let dir = c.path_prefix.rsplit_once('/').map(|(d, _)| Path::from(d));
    let mut listed: Vec<(String, u64)> = store
        .list(dir.as_ref())
        .map_ok(|m| (m.location.to_string(), m.size))
        .try_collect::<Vec<_>>()
        .await
        .with_context(|| format!("cannot list s3://{}/{}", c.bucket, c.path_prefix))?
        .into_iter()
        .filter(|(k, _)| k.starts_with(&c.path_prefix))
        .filter(|(k, _)| pattern.as_ref().is_none_or(|p| p.is_match(k)))
        .filter(|(k, _)| c.last_path.as_ref().is_none_or(|l| k > l))
        .collect();
    listed.sort();
    let expected = Expected {
        rows: None,
        bytes: Some(listed.iter().map(|(_, size)| *size).sum()),
    };
    let keys: Vec<String> = listed.into_iter().map(|(key, _)| key).collect();

    let json_schema;
    let columns = match &c.parser {
        ParserConfig::Csv(p) => &p.columns,
        ParserConfig::Jsonl(p) => &p.columns,
        ParserConfig::Json(p) => {
            json_schema = p.schema();
            &json_schema
        }
        ParserConfig::Parquet(p) if p.columns.is_empty() => {
            anyhow::bail!(
                "parser.columns: required for Parquet on S3 (the schema is not read from the bucket)"
            )
        }
        ParserConfig::Parquet(p) => &p.columns,
    };
    let schema = types::schema(
        &columns
            .iter()
            .map(|c| (c.name.clone(), c.type_))
            .collect::<Vec<_>>(),
    );
    let decoders: Vec<Codec> = c.decoders.iter().map(|d| d.type_).collect();
    let tasks = keys
        .into_iter()
        .map(|key| {
            let (store, parser, schema, bucket, decoders) = (
                store.clone(),
                c.parser.clone(),
                schema.clone(),
                c.bucket.clone(),
                decoders.clone(),
            );
            let task: Task = Box::new(move |tx, stats| {
                async move {
                    let local = temp_path("in");
                    let result = async {
                        let mut stream = store
                            .get(&Path::from(key.as_str()))
                            .await
                            .with_context(|| format!("cannot read s3://{bucket}/{key}"))?
                            .into_stream();
                        let mut file = std::fs::File::create(&local)?;
                        while let Some(chunk) = stream.next().await {
                            file.write_all(
                                &chunk.with_context(|| format!("reading s3://{bucket}/{key}"))?,
                            )?;
                        }
                        drop(file);
                        // The staging file is the engine's own, not a tenant's path:
                        // opened as is, and named by its object in messages.
                        let staged = std::fs::File::open(&local)?;
                        let name = format!("s3://{bucket}/{key}");
                        tokio::task::spawn_blocking(move || {
                            read_file(
                                staged,
                                std::path::Path::new(&name),
                                &decoders,
                                &parser,
                                schema,
                                &tx,
                                &stats,
                            )
                        })
                        .await
                        .context("object reader panicked")?
                    }
                    .await;
                    let _ = std::fs::remove_file(&local);
                    result?;
                    Ok(TaskState {
                        last_record: None,
                        last_path: Some(key),
                    })
                }
                .boxed()
            });
            task
        })
        .collect();
    Ok(Source {
        schema,
        tasks,
        expected,
    })
}

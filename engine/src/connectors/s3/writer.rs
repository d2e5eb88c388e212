//! `out: {type: s3}`: formats into a local temporary file, uploaded at commit.

use super::{S3Credentials, S3Location, store, temp_path};
use crate::connectors::file::writer::{FileWriter, output_path};
use crate::shared::files_root::FileAccess;
use crate::shared::stats::ByteCounter;
use anyhow::{Context, Result};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use hakobu_core::config::{FileOutput, S3Output};
use object_store::ObjectStore;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// An open S3 output.
pub struct S3Writer {
    file: FileWriter,
    local: std::path::PathBuf,
    store: Arc<dyn ObjectStore>,
    key: String,
    bucket: String,
}

impl S3Writer {
    /// Checks the bucket settings and opens the local staging file.
    pub async fn open(c: &S3Output, schema: SchemaRef, written: ByteCounter) -> Result<Self> {
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
        let as_file = |prefix: String| FileOutput {
            path_prefix: prefix,
            file_ext: c.file_ext.clone(),
            sequence_format: c.sequence_format.clone(),
            encoders: c.encoders.clone(),
            formatter: c.formatter.clone(),
        };
        let key = output_path(&as_file(c.path_prefix.clone()), 0, 0);
        let staged = as_file(format!("{}/", temp_path("out").display()));
        let local = std::path::PathBuf::from(output_path(&staged, 0, 0));
        // The staging file is the engine's own temporary path, not a tenant's. What it
        // counts is what is uploaded: the object is the file.
        let file = FileWriter::open(&staged, schema, &FileAccess::Unconfined, written).await?;
        Ok(S3Writer {
            file,
            local,
            store,
            key,
            bucket: c.bucket.clone(),
        })
    }

    /// Formats one batch into the staging file.
    pub async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        self.file.write(batch).await
    }

    /// Uploads the finished file; the object appears only when the upload completes.
    pub async fn commit(self) -> Result<()> {
        let S3Writer {
            file,
            local,
            store,
            key,
            bucket,
        } = self;
        file.commit().await?;
        let result = async {
            let mut source = tokio::fs::File::open(&local).await?;
            let mut upload = BufWriter::new(store, Path::from(key.as_str()));
            tokio::io::copy(&mut source, &mut upload).await?;
            upload.shutdown().await?;
            anyhow::Ok(())
        }
        .await
        .with_context(|| format!("uploading s3://{bucket}/{key} failed"));
        let _ = std::fs::remove_file(&local);
        if let Some(dir) = local.parent() {
            let _ = std::fs::remove_dir(dir);
        }
        result
    }

    /// Drops the staging file; nothing was uploaded.
    pub async fn abort(self) {
        let local = self.local.clone();
        self.file.abort().await;
        if let Some(dir) = local.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

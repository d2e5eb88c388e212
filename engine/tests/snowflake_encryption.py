#!/usr/bin/env python3
"""Snowflake's own client-side encryption, for the engine's interop test
(engine/tests/engine/snowflake_stage.rs). Run with the fakesnow venv's python, which has
snowflake-connector-python and boto3.

The stage material comes from the environment: SF_MASTER_KEY (base64 AES key),
SF_QUERY_ID, SF_SMK_ID.

  decrypt-s3 ENDPOINT BUCKET KEY OUT
      Downloads the object from the S3 endpoint (moto), decrypts it with the connector's
      SnowflakeEncryptionUtil.decrypt_file from its x-amz-key/x-amz-iv metadata, writes the
      plaintext to OUT and prints the object's user metadata and content type as JSON.
  get-s3 ENDPOINT BUCKET KEY OUT
      Downloads the object as it is stored (encrypted) to OUT.
  decrypt IN OUT KEY IV MATDESC
      Decrypts IN with decrypt_file from the given metadata (a GCS upload's
      x-goog-meta-encryptiondata and x-goog-meta-matdesc) and writes the plaintext to OUT.
  encrypt IN OUT
      Encrypts IN with SnowflakeEncryptionUtil.encrypt_file, writes the ciphertext to OUT
      and prints the metadata (key, iv, matdesc) as JSON.
"""

import json
import os
import shutil
import sys
import tempfile

from snowflake.connector.constants import EncryptionMetadata
from snowflake.connector.encryption_util import SnowflakeEncryptionUtil
from snowflake.connector.storage_client import SnowflakeFileEncryptionMaterial


def material() -> SnowflakeFileEncryptionMaterial:
    return SnowflakeFileEncryptionMaterial(
        query_stage_master_key=os.environ["SF_MASTER_KEY"],
        query_id=os.environ["SF_QUERY_ID"],
        smk_id=int(os.environ["SF_SMK_ID"]),
    )


def get_object(endpoint: str, bucket: str, key: str) -> dict:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    return s3.get_object(Bucket=bucket, Key=key)


def get_s3(endpoint: str, bucket: str, key: str, out: str) -> None:
    with open(out, "wb") as f:
        f.write(get_object(endpoint, bucket, key)["Body"].read())


def decrypt_s3(endpoint: str, bucket: str, key: str, out: str) -> None:
    obj = get_object(endpoint, bucket, key)
    meta = obj["Metadata"]
    with tempfile.TemporaryDirectory() as tmp:
        encrypted = os.path.join(tmp, "encrypted")
        with open(encrypted, "wb") as f:
            f.write(obj["Body"].read())
        plain = SnowflakeEncryptionUtil.decrypt_file(
            EncryptionMetadata(
                key=meta["x-amz-key"], iv=meta["x-amz-iv"], matdesc=meta["x-amz-matdesc"]
            ),
            material(),
            encrypted,
            tmp_dir=tmp,
        )
        shutil.copyfile(plain, out)
    print(json.dumps({"metadata": meta, "content_type": obj.get("ContentType")}))


def decrypt(src: str, out: str, key: str, iv: str, matdesc: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        plain = SnowflakeEncryptionUtil.decrypt_file(
            EncryptionMetadata(key=key, iv=iv, matdesc=matdesc), material(), src, tmp_dir=tmp
        )
        shutil.copyfile(plain, out)


def encrypt(src: str, out: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        meta, path = SnowflakeEncryptionUtil.encrypt_file(material(), src, tmp_dir=tmp)
        shutil.copyfile(path, out)
    print(json.dumps({"key": meta.key, "iv": meta.iv, "matdesc": meta.matdesc}))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "decrypt-s3":
        decrypt_s3(*args)
    elif command == "get-s3":
        get_s3(*args)
    elif command == "decrypt":
        decrypt(*args)
    elif command == "encrypt":
        encrypt(*args)
    else:
        sys.exit(f"unknown command {command!r}")

#!/usr/bin/env bash
# Records an atlas in N shards as an AWS Batch array job, then merges them in a job that depends on it.
#
#   JOB_QUEUE=my-queue deploy/aws-batch/submit.sh            # 8 shards of /data/corpus.txt at h.2.mlp.act
#   JOB_QUEUE=my-queue SHARDS=32 LAYER=h.5.mlp.act deploy/aws-batch/submit.sh
#
# Before the first run, replace the placeholders in job-definition.json: the image (the repository's Dockerfile
# pushed to ECR), the EFS file system and two access points: `shards` (root directory e.g. /atlas/shards, POSIX
# user and owner uid/gid 1000, the image's `node` user, so that it can write) and `data` (e.g. /atlas/data,
# holding corpus.txt). The compute environment's instances need the EFS mount helper (the ECS-optimized AMI
# has it) and a job role allowed to mount the file system.
#
# Shards: child I of the array job (AWS_BATCH_JOB_ARRAY_INDEX=I, set by Batch) records the I-th of SHARDS
# slices with `--shard auto --shards SHARDS` and writes /shards/shard-I-of-SHARDS/ on EFS (first under a
# temporary name, then renamed). A failed child is retried alone (retryStrategy). The merge job depends on the
# whole array job (a plain dependency on the array's id: it starts when every child has succeeded, and is
# cancelled if one fails for good), reads every shard folder and writes /shards/atlas.json on EFS.
# The array's size and --shards both come from SHARDS, so they cannot disagree.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JOB_QUEUE="${JOB_QUEUE:?set JOB_QUEUE to your AWS Batch job queue}"
SHARDS="${SHARDS:-8}"
TEXT="${TEXT:-/data/corpus.txt}"
LAYER="${LAYER:-h.2.mlp.act}"

if grep -q REPLACE "$HERE/job-definition.json"; then
  echo "Replace the placeholders (ACCOUNT, REGION, fs-REPLACE, fsap-REPLACE-*) in $HERE/job-definition.json first." >&2
  exit 1
fi

DEFINITION="$(aws batch register-job-definition --cli-input-json "file://$HERE/job-definition.json" \
  --query jobDefinitionArn --output text)"

RECORD_ID="$(aws batch submit-job --job-name atlas-record --job-queue "$JOB_QUEUE" --job-definition "$DEFINITION" \
  --array-properties "size=$SHARDS" \
  --parameters "text=$TEXT,layer=$LAYER,shards=$SHARDS" \
  --query jobId --output text)"
echo "record: array job $RECORD_ID, $SHARDS children writing /shards/shard-<i>-of-$SHARDS/"

MERGE_ID="$(aws batch submit-job --job-name atlas-merge --job-queue "$JOB_QUEUE" --job-definition "$DEFINITION" \
  --depends-on "jobId=$RECORD_ID" \
  --container-overrides '{"command": ["--merge", "/shards", "--out", "/shards/atlas.json"]}' \
  --query jobId --output text)"
echo "merge:  job $MERGE_ID, after every child of $RECORD_ID, writing /shards/atlas.json"

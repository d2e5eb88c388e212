//! Diesel table definitions, kept by hand in step with `migrations/`.
//! Every table is read and written by the API tests against the migrated database, so a
//! drift between the two fails there.

diesel::table! {
    organizations (id) {
        id -> Uuid,
        name -> Text,
        created_at -> Timestamptz,
        max_concurrent_runs -> Nullable<Int8>,
        quotas -> Jsonb,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        organization_id -> Uuid,
        email -> Text,
        name -> Text,
        password_hash -> Text,
        org_role -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    teams (id) {
        id -> Uuid,
        organization_id -> Uuid,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    team_members (team_id, user_id) {
        team_id -> Uuid,
        user_id -> Uuid,
        organization_id -> Uuid,
        role -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        user_id -> Uuid,
        organization_id -> Uuid,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        organization_id -> Uuid,
        name -> Text,
        prefix -> Text,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        scope -> Text,
    }
}

diesel::table! {
    invitations (id) {
        id -> Uuid,
        organization_id -> Uuid,
        email -> Text,
        org_role -> Text,
        teams -> Jsonb,
        token_hash -> Bytea,
        invited_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        accepted_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    login_attempts (id) {
        id -> Int8,
        email -> Text,
        ip -> Text,
        succeeded -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Uuid,
        seq -> Int8,
        organization_id -> Uuid,
        actor_user_id -> Nullable<Uuid>,
        actor_email -> Nullable<Text>,
        action -> Text,
        target_type -> Text,
        target_id -> Nullable<Text>,
        details -> Jsonb,
        ip -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    connections (id) {
        id -> Uuid,
        organization_id -> Uuid,
        team_id -> Uuid,
        name -> Text,
        kind -> Text,
        settings -> Jsonb,
        secrets -> Jsonb,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    connection_shares (connection_id, team_id) {
        connection_id -> Uuid,
        team_id -> Uuid,
        organization_id -> Uuid,
        role -> Text,
    }
}

diesel::table! {
    jobs (id) {
        id -> Uuid,
        organization_id -> Uuid,
        team_id -> Uuid,
        name -> Text,
        description -> Text,
        labels -> Array<Text>,
        enabled -> Bool,
        settings -> Jsonb,
        source_connection_id -> Uuid,
        destination_connection_id -> Uuid,
        revision -> Int4,
        incremental_state -> Nullable<Jsonb>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    job_revisions (job_id, revision) {
        job_id -> Uuid,
        revision -> Int4,
        organization_id -> Uuid,
        name -> Text,
        description -> Text,
        labels -> Array<Text>,
        settings -> Jsonb,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    job_shares (job_id, team_id) {
        job_id -> Uuid,
        team_id -> Uuid,
        organization_id -> Uuid,
        role -> Text,
    }
}

diesel::table! {
    runs (id) {
        id -> Uuid,
        organization_id -> Uuid,
        job_id -> Uuid,
        job_revision -> Int4,
        status -> Text,
        attempt -> Int4,
        max_attempts -> Int4,
        root_run_id -> Uuid,
        trigger -> Text,
        triggered_by -> Nullable<Uuid>,
        idempotency_key -> Nullable<Text>,
        config_snapshot -> Nullable<Text>,
        resolved_inputs -> Jsonb,
        launcher -> Nullable<Text>,
        task_id -> Nullable<Text>,
        runner_image -> Nullable<Text>,
        rows_read -> Int8,
        rows_written -> Int8,
        rows_skipped -> Int8,
        bytes_read -> Int8,
        error_summary -> Nullable<Text>,
        next_state -> Nullable<Jsonb>,
        cancel_requested -> Bool,
        timeout_seconds -> Int4,
        queued_at -> Timestamptz,
        not_before -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        heartbeat_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        schedule_id -> Nullable<Uuid>,
        scheduled_time -> Nullable<Timestamptz>,
        backfill_id -> Nullable<Uuid>,
        rows_expected -> Nullable<Int8>,
        bytes_expected -> Nullable<Int8>,
        task_vcpu -> Nullable<Float4>,
        task_memory_mb -> Nullable<Int4>,
        bytes_written -> Int8,
        task_started_at -> Nullable<Timestamptz>,
        task_stopped_at -> Nullable<Timestamptz>,
        retry_backoff_seconds -> Nullable<Int4>,
    }
}

diesel::table! {
    schedules (id) {
        id -> Uuid,
        organization_id -> Uuid,
        job_id -> Nullable<Uuid>,
        settings -> Jsonb,
        enabled -> Bool,
        next_fire_at -> Nullable<Timestamptz>,
        last_fired_at -> Nullable<Timestamptz>,
        consecutive_failures -> Int4,
        disabled_reason -> Nullable<Text>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        workflow_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    run_logs (run_id, seq) {
        run_id -> Uuid,
        seq -> Int8,
        at -> Timestamptz,
        level -> Text,
        message -> Text,
    }
}

diesel::joinable!(users -> organizations (organization_id));
diesel::joinable!(teams -> organizations (organization_id));
diesel::joinable!(team_members -> teams (team_id));
diesel::joinable!(team_members -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(connection_shares -> connections (connection_id));
diesel::joinable!(job_shares -> jobs (job_id));
diesel::joinable!(job_revisions -> jobs (job_id));
diesel::joinable!(runs -> jobs (job_id));
diesel::joinable!(schedules -> jobs (job_id));
diesel::joinable!(run_logs -> runs (run_id));

diesel::table! {
    run_launch_refusals (run_id) {
        run_id -> Uuid,
        organization_id -> Uuid,
        refusals -> Int4,
        first_at -> Timestamptz,
        last_error -> Text,
    }
}

diesel::table! {
    run_checks (run_id, position) {
        run_id -> Uuid,
        position -> Int4,
        name -> Text,
        outcome -> Text,
        actual -> Nullable<Text>,
        expected -> Text,
        operator -> Text,
        message -> Nullable<Text>,
        checked_at -> Timestamptz,
    }
}

diesel::table! {
    notification_destinations (id) {
        id -> Uuid,
        organization_id -> Uuid,
        name -> Text,
        kind -> Text,
        settings -> Jsonb,
        secrets -> Jsonb,
        confirmed_at -> Nullable<Timestamptz>,
        confirm_token_hash -> Nullable<Bytea>,
        confirm_expires_at -> Nullable<Timestamptz>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    notification_rules (id) {
        id -> Uuid,
        organization_id -> Uuid,
        job_id -> Nullable<Uuid>,
        destination_id -> Uuid,
        event -> Text,
        threshold -> Nullable<Int8>,
        workflow_id -> Nullable<Uuid>,
        subject -> Nullable<Text>,
        template -> Nullable<Text>,
        mentions -> Jsonb,
        enabled -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    notification_outbox (id) {
        id -> Uuid,
        organization_id -> Uuid,
        rule_id -> Nullable<Uuid>,
        destination_id -> Uuid,
        job_id -> Nullable<Uuid>,
        run_id -> Nullable<Uuid>,
        event -> Text,
        dedupe_key -> Text,
        context -> Jsonb,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        lease_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    notification_attempts (outbox_id, attempt) {
        outbox_id -> Uuid,
        attempt -> Int4,
        at -> Timestamptz,
        succeeded -> Bool,
        http_status -> Nullable<Int4>,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    password_resets (token_hash) {
        token_hash -> Bytea,
        user_id -> Uuid,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    workflows (id) {
        id -> Uuid,
        organization_id -> Uuid,
        team_id -> Uuid,
        name -> Text,
        description -> Text,
        spec -> Jsonb,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        secrets -> Jsonb,
    }
}

diesel::table! {
    workflow_runs (id) {
        id -> Uuid,
        organization_id -> Uuid,
        workflow_id -> Uuid,
        spec -> Jsonb,
        status -> Text,
        attempt -> Int4,
        trigger -> Text,
        triggered_by -> Nullable<Uuid>,
        resolved_inputs -> Jsonb,
        wake_at -> Nullable<Timestamptz>,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
        ended_at -> Nullable<Timestamptz>,
        schedule_id -> Nullable<Uuid>,
        scheduled_time -> Nullable<Timestamptz>,
        parent_run_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    workflow_task_runs (workflow_run_id, task_name) {
        workflow_run_id -> Uuid,
        organization_id -> Uuid,
        task_name -> Text,
        state -> Text,
        skipped_for_failure -> Bool,
        run_id -> Nullable<Uuid>,
        starts -> Int4,
        wait_until -> Nullable<Timestamptz>,
        message -> Nullable<Text>,
        started_at -> Nullable<Timestamptz>,
        ended_at -> Nullable<Timestamptz>,
        child_run_id -> Nullable<Uuid>,
        failed_attempts -> Int4,
        execute_at -> Nullable<Timestamptz>,
        claimed_until -> Nullable<Timestamptz>,
        execution_failures -> Int4,
    }
}

diesel::joinable!(workflow_runs -> workflows (workflow_id));
diesel::joinable!(workflow_task_runs -> workflow_runs (workflow_run_id));

diesel::allow_tables_to_appear_in_same_query!(
    organizations,
    users,
    teams,
    team_members,
    sessions,
    api_tokens,
    invitations,
    login_attempts,
    audit_log,
    connections,
    connection_shares,
    jobs,
    job_revisions,
    job_shares,
    runs,
    run_logs,
    schedules,
    run_checks,
    notification_destinations,
    notification_rules,
    notification_outbox,
    notification_attempts,
    password_resets,
    workflows,
    workflow_runs,
    workflow_task_runs,
);

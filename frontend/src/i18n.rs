//! Every string of the UI, in English and Japanese.
//!
//! The table below is the only place UI text lives. Each entry is `Key => "English",
//! "日本語";`, so a key without both languages does not compile, and `Key::text` is one
//! exhaustive `match`. Placeholders are named (`{name}`) and filled with [`fill`]; a unit
//! test checks both languages use the same ones, and that Japanese text has no English
//! words left in it.
//!
//! Messages from the server (validation errors from `core`, sign-in failures) are English;
//! [`translate_message`] maps the known ones to Japanese via the `Msg*` entries, whose
//! English side is the server's exact wording with `{n}` for a number.

use hakobu_core::authz::{OrgRole, TeamRole};
use leptos::prelude::*;

/// A language of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ja];

    /// The code stored in `localStorage` and put in `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "ja" => Some(Lang::Ja),
            _ => None,
        }
    }

    /// The BCP 47 locale for `Intl` date and number formatting.
    pub fn locale(self) -> &'static str {
        match self {
            Lang::En => "en-US",
            Lang::Ja => "ja-JP",
        }
    }

    /// The language for a browser language such as `ja-JP` or `en-GB`: Japanese for any
    /// Japanese variant, English otherwise.
    pub fn from_browser(language: &str) -> Lang {
        if language.to_ascii_lowercase().starts_with("ja") {
            Lang::Ja
        } else {
            Lang::En
        }
    }
}

macro_rules! texts {
    ($($key:ident => $en:literal, $ja:literal;)*) => {
        /// A string of the UI.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Key { $($key,)* }

        impl Key {
            /// Every key, for the completeness tests.
            pub const ALL: &'static [Key] = &[$(Key::$key,)*];

            pub fn text(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $(
                        (Key::$key, Lang::En) => $en,
                        (Key::$key, Lang::Ja) => $ja,
                    )*
                }
            }
        }
    };
}

texts! {
    // --- shell and navigation ---
    SkipToContent => "Skip to content", "本文へ移動";
    MainNavigation => "Main navigation", "メインナビゲーション";
    NavDashboard => "Dashboard", "ダッシュボード";
    NavTransfers => "Transfers", "データ転送";
    NavConnections => "Connections", "接続";
    NavJobs => "Jobs", "ジョブ";
    NavRuns => "Runs", "実行履歴";
    NavOrganization => "Organization", "組織";
    NavMembers => "Members", "メンバー";
    NavTeams => "Teams", "チーム";
    NavAudit => "Audit log", "監査ログ";
    NavYou => "You", "あなた";
    NavTokens => "API tokens", "API トークン";
    NavAccount => "Account", "アカウント";
    Soon => "soon", "準備中";
    SignOut => "Sign out", "ログアウト";
    Language => "Language", "表示言語";
    TimesShownIn => "Times are shown in your time zone: {zone} ({id}).", "時刻はお使いのタイムゾーン（{zone}）で表示しています。";

    // --- common words ---
    Loading => "Loading…", "読み込み中…";
    Working => "Working…", "処理中…";
    Creating => "Creating…", "作成中…";
    TryAgain => "Try again", "再試行";
    Dismiss => "Dismiss", "閉じる";
    Cancel => "Cancel", "キャンセル";
    Copy => "Copy", "コピー";
    Copied => "Copied", "コピーしました";
    Remove => "Remove", "削除";
    Delete => "Delete", "削除する";
    Rename => "Rename", "名前を変更";
    Revoke => "Revoke", "無効にする";
    Withdraw => "Withdraw", "取り消す";
    ChangeRole => "Change role", "ロールを変更";
    Actions => "Actions", "操作";
    Name => "Name", "名前";
    Email => "Email", "メールアドレス";
    Password => "Password", "パスワード";
    Organization => "Organization", "組織";
    OrgRole => "Organization role", "組織でのロール";
    TeamRole => "Team role", "チームでのロール";
    Member => "Member", "メンバー";
    YourRole => "Your role", "あなたのロール";
    You => "(you)", "（あなた）";
    Created => "Created", "作成日時";
    Joined => "Joined", "参加日時";
    Expires => "Expires", "有効期限";
    LastUsed => "Last used", "最終使用";
    Status => "Status", "状態";
    Never => "Never", "なし";
    NotUsedYet => "Not used yet", "未使用";
    Active => "Active", "有効";
    Revoked => "Revoked", "無効化済み";
    Expired => "Expired", "期限切れ";
    System => "System", "システム";
    NetworkError => "Hakobu cannot be reached right now. Check your connection and try again.", "Hakobu に接続できません。ネットワーク接続を確認して、もう一度お試しください。";
    SomethingWentWrong => "Something went wrong while showing this page.", "このページの表示中に問題が発生しました。";

    // --- roles ---
    RoleOwner => "Owner", "オーナー";
    RoleAdmin => "Admin", "管理者";
    RoleMember => "Member", "メンバー";
    TeamRoleViewer => "Viewer", "閲覧者";
    TeamRoleOperator => "Operator", "実行者";
    TeamRoleEditor => "Editor", "編集者";
    TeamRoleAdmin => "Team admin", "チーム管理者";

    // --- sign in, sign up, invitations ---
    SignInTitle => "Sign in to Hakobu", "Hakobu にログイン";
    SignIn => "Sign in", "ログイン";
    SigningIn => "Signing in…", "ログイン中…";
    NoAccountYet => "New to Hakobu?", "はじめてご利用ですか？";
    InvitedHint => "Invited by a colleague? Open the link from your invitation instead.", "同僚から招待された場合は、招待リンクを開いてください。";
    SignUpTitle => "Create your organization", "組織を作成";
    SignUpLead => "You become its owner and can invite your colleagues afterwards.", "あなたが組織のオーナーになり、後から同僚を招待できます。";
    CreateOrganization => "Create an organization", "組織を作成する";
    OrganizationName => "Organization name", "組織名";
    OrganizationNameHint => "Usually your company or department, e.g. \"Acme Analytics\".", "会社名や部署名など（例：「株式会社サンプル 分析部」）。";
    YourName => "Your name", "お名前";
    PasswordHint => "At least 10 characters. A few words make a strong, memorable password.", "10 文字以上。いくつかの単語を組み合わせると、強くて覚えやすいパスワードになります。";
    HaveAccount => "Already have an account?", "アカウントをお持ちですか？";
    AcceptTitle => "Join your team on Hakobu", "Hakobu でチームに参加";
    LinkExpires => "Link valid until", "リンクの有効期限";
    ChoosePassword => "Choose a password", "パスワードを設定";
    JoinOrganization => "Create my account", "アカウントを作成";
    InvitationInvalidTitle => "This invitation link does not work", "この招待リンクは使えません";
    InvitationInvalid => "It was already used, withdrawn, or has expired. Ask the person who invited you for a new link.", "すでに使用済みか、取り消されたか、有効期限が切れています。招待した人に新しいリンクを依頼してください。";

    // --- dashboard ---
    Welcome => "Welcome, {name}.", "{name} さん、ようこそ。";
    SeeMembers => "See members", "メンバーを見る";
    SeeTeams => "See teams", "チームを見る";
    YourTeams => "Your teams", "所属チーム";
    NoTeamsYet => "You are not in any team yet. An administrator can add you to one.", "まだどのチームにも所属していません。管理者がチームに追加できます。";
    TransfersTitle => "Data transfers", "データ転送";
    TransfersEmptyTitle => "Transfers are not available yet", "データ転送はまだ利用できません";
    TransfersEmptyBody => "This version of Hakobu manages people, teams and access. Connections, transfer jobs and their runs are being built; once they arrive, this page shows what is running, what is queued and what failed in the last 24 hours.", "このバージョンの Hakobu では、メンバー・チーム・アクセス権を管理できます。接続、転送ジョブ、実行履歴は開発中です。利用可能になると、このページに実行中・待機中のジョブと、直近 24 時間の失敗が表示されます。";
    ComingSoonTitle => "Not available yet", "まだ利用できません";
    ConnectionsSoon => "Connections (databases and storage that Hakobu reads from and writes to) are not part of this version yet. Nothing is hidden from you: there is simply nothing here yet.", "接続（Hakobu が読み書きするデータベースやストレージ）は、このバージョンにはまだありません。表示が制限されているのではなく、まだ機能がないだけです。";
    JobsSoon => "Transfer jobs are not part of this version yet. When they arrive, you will set them up here in a few steps, with a preview of the rows.", "転送ジョブは、このバージョンにはまだありません。利用可能になると、ここでデータのプレビューを見ながら数ステップで設定できます。";
    RunsSoon => "Runs are not part of this version yet. When jobs arrive, every run, its progress and its log will be listed here.", "実行履歴は、このバージョンにはまだありません。ジョブが利用可能になると、各実行の進捗とログがここに表示されます。";

    // --- members and invitations ---
    MembersLead => "Everyone in your organization, and their role in it.", "組織のメンバーと、それぞれのロールです。";
    PeopleInOrganization => "People in the organization", "組織のメンバー";
    NoMembersTitle => "No members", "メンバーがいません";
    NoMembersBody => "Invite colleagues below.", "下のフォームから同僚を招待してください。";
    RoleOf => "Role of {name}", "{name} のロール";
    RoleIn => "Role in {team}", "{team} でのロール";
    ConfirmRoleChange => "Change {name} from {from} to {to}?", "{name} のロールを {from} から {to} に変更しますか？";
    ConfirmRemoveMember => "Remove {name} from the organization? Their sign-ins and API tokens stop working.", "{name} を組織から削除しますか？ログインと API トークンは使えなくなります。";
    OnlyAdminsRemove => "Only organization admins and owners can remove members.", "メンバーを削除できるのは組織の管理者とオーナーだけです。";
    CannotRemoveYourself => "You cannot remove yourself. Ask another admin.", "自分自身は削除できません。別の管理者に依頼してください。";
    OnlyOwnersRemoveOwners => "Only an owner can remove an owner.", "オーナーを削除できるのはオーナーだけです。";
    OnlyOwnersChangeOwners => "Only an owner can change an owner's role.", "オーナーのロールを変更できるのはオーナーだけです。";
    InviteTitle => "Invite a member", "メンバーを招待";
    InviteLead => "Hakobu does not send email yet: you get a link to pass on. It works once, for 7 days.", "Hakobu はまだメールを送信しません。表示されるリンクを招待する人に渡してください。リンクは 7 日間、1 回だけ使えます。";
    OnlyAdminsInvite => "Only organization admins and owners can invite members.", "メンバーを招待できるのは組織の管理者とオーナーだけです。";
    OrgRoleHint => "Members see the organization and their teams; admins also manage members, teams and the audit log.", "メンバーは組織と所属チームを閲覧できます。管理者はさらにメンバー・チーム・監査ログを管理できます。";
    AddToTeams => "Add to teams", "追加するチーム";
    NoTeamsToGrant => "There are no teams yet.", "まだチームがありません。";
    SendInvitation => "Create invitation link", "招待リンクを作成";
    InviteLink => "Invitation link", "招待リンク";
    InviteLinkWarning => "Copy it now and send it to the person you invited: it is shown only once.", "今すぐコピーして、招待する人に送ってください。このリンクは一度しか表示されません。";
    PendingInvitations => "Pending invitations", "保留中の招待";
    NoInvitationsTitle => "No pending invitations", "保留中の招待はありません";
    NoInvitationsBody => "Invitations appear here until they are accepted, withdrawn or expire.", "招待は、承諾・取り消し・期限切れになるまでここに表示されます。";
    ConfirmWithdraw => "Withdraw the invitation for {email}? The link stops working.", "{email} への招待を取り消しますか？リンクは使えなくなります。";
    OrganizationSettings => "Organization name", "組織名";
    RenameOrganization => "Rename", "名前を変更";
    Saved => "Saved.", "保存しました。";
    DeletedTeam => "(deleted team)", "（削除されたチーム）";

    // --- teams ---
    TeamsLeadAdmin => "Every team of the organization. Teams own connections and jobs; their members' roles decide who may see, run and edit them.", "組織のすべてのチームです。チームは接続とジョブを所有し、メンバーのロールによって閲覧・実行・編集できる範囲が決まります。";
    TeamsLeadMember => "The teams you belong to.", "あなたが所属しているチームです。";
    NoTeamsTitle => "No teams to show", "表示できるチームがありません";
    NoTeamsBody => "You are not in any team yet. An administrator can add you to one.", "まだどのチームにも所属していません。管理者がチームに追加できます。";
    MemberCount => "Members", "メンバー数";
    CreateTeam => "Create a team", "チームを作成";
    TeamName => "Team name", "チーム名";
    OnlyAdminsCreateTeams => "Only organization admins and owners can create teams.", "チームを作成できるのは組織の管理者とオーナーだけです。";
    TeamMissingTitle => "Team not found", "チームが見つかりません";
    TeamMissingBody => "It may have been deleted, or you are not a member of it.", "削除されたか、あなたがメンバーではない可能性があります。";
    BackToTeams => "Back to teams", "チーム一覧に戻る";
    TeamSummary => "{n} members", "メンバー {n} 人";
    TeamSummaryOne => "1 member", "メンバー 1 人";
    TeamMembers => "Team members", "チームのメンバー";
    NoTeamMembersTitle => "Nobody is in this team yet", "このチームにはまだメンバーがいません";
    NoTeamMembersBody => "Add members below.", "下のフォームからメンバーを追加してください。";
    AddTeamMember => "Add a member", "メンバーを追加";
    ChooseMember => "Choose a member…", "メンバーを選択…";
    AddToTeam => "Add to team", "チームに追加";
    TeamRolesHint => "Viewers see names and statuses; operators also run jobs; editors also change connections and jobs; team admins also manage the team's members.", "閲覧者は名前と状態を見られます。実行者はさらにジョブを実行でき、編集者は接続とジョブを変更でき、チーム管理者はチームのメンバーを管理できます。";
    OnlyTeamAdminsManage => "Only this team's admins and organization admins can change its members and name.", "メンバーや名前を変更できるのは、このチームの管理者と組織の管理者だけです。";
    RenameTeam => "Rename the team", "チーム名を変更";
    DeleteTeam => "Delete the team", "チームを削除";
    DeleteTeamHint => "Its members stay in the organization; they just leave this team.", "メンバーは組織に残り、このチームから外れるだけです。";
    OnlyAdminsDeleteTeams => "Only organization admins and owners can delete teams.", "チームを削除できるのは組織の管理者とオーナーだけです。";
    ConfirmDeleteTeam => "Delete the team {team}? This cannot be undone.", "チーム {team} を削除しますか？元に戻せません。";
    RemoveFromTeam => "Remove from team", "チームから外す";
    ConfirmRemoveFromTeam => "Remove {name} from this team?", "{name} をこのチームから外しますか？";

    // --- API tokens ---
    TokensLead => "Tokens let scripts call the Hakobu API as you, with your permissions. Keep them secret like a password.", "トークンを使うと、スクリプトからあなたの権限で Hakobu の API を呼び出せます。パスワードと同じように秘密にしてください。";
    CreateToken => "Create a token", "トークンを作成";
    TokenName => "What is it for?", "用途";
    TokenNameHint => "A name you will recognise later, e.g. \"nightly export script\".", "後で見分けられる名前（例：「夜間エクスポート用スクリプト」）。";
    ExpiresInDays => "Expires after (days)", "有効期間（日数）";
    ExpiresInDaysHint => "Leave empty for a token that works until you revoke it.", "空欄にすると、無効にするまで使えるトークンになります。";
    NewToken => "Your new token", "新しいトークン";
    NewTokenWarning => "Copy it now: it is shown only once. Hakobu keeps only a fingerprint of it.", "今すぐコピーしてください。一度しか表示されません。Hakobu はトークンそのものを保存しません。";
    YourTokens => "Your tokens", "あなたのトークン";
    TokenPrefix => "Starts with", "先頭の文字";
    NoTokensTitle => "No tokens yet", "トークンはまだありません";
    NoTokensBody => "Create one above when a script needs to use the API.", "スクリプトから API を使うときに、上のフォームで作成してください。";
    ConfirmRevoke => "Revoke {name}? Scripts using it stop working at once.", "{name} を無効にしますか？使用中のスクリプトはすぐに動かなくなります。";

    // --- audit log ---
    AuditLead => "Every change that matters: who did what, and when.", "重要な変更の記録です。誰が、いつ、何をしたかを確認できます。";
    OnlyAdminsAudit => "Only organization admins and owners can read the audit log.", "監査ログを閲覧できるのは組織の管理者とオーナーだけです。";
    FilterAction => "Action", "操作";
    FilterActionHint => "e.g. team.create, or team for every team action", "例：team.create（team ですべてのチーム操作）";
    FilterTargetType => "Target type", "対象の種類";
    FilterTargetHint => "e.g. user, team, invitation", "例：user、team、invitation";
    From => "From", "開始日時";
    To => "Until", "終了日時";
    Anyone => "Anyone", "すべての人";
    ApplyFilters => "Apply filters", "絞り込む";
    ClearFilters => "Clear", "クリア";
    ExportCsv => "Export CSV", "CSV をダウンロード";
    When => "When", "日時";
    Who => "Who", "実行者";
    What => "What", "操作";
    Target => "Target", "対象";
    Details => "Details", "詳細";
    NoAuditTitle => "Nothing matches", "該当する記録はありません";
    NoAuditBody => "Try fewer filters or a wider time range.", "絞り込み条件を減らすか、期間を広げてください。";
    Pages => "Pages", "ページ";
    PageOf => "Page {page} of {pages} ({total} entries)", "{pages} ページ中 {page} ページ目（全 {total} 件）";
    Previous => "Previous", "前へ";
    Next => "Next", "次へ";

    // --- account ---
    Profile => "Profile", "プロフィール";
    ChangePassword => "Change password", "パスワードを変更";
    ChangePasswordLead => "Changing your password signs you out everywhere else.", "パスワードを変更すると、ほかの端末ではログアウトされます。";
    CurrentPassword => "Current password", "現在のパスワード";
    NewPassword => "New password", "新しいパスワード";
    PasswordChanged => "Your password was changed. Other sessions were signed out.", "パスワードを変更しました。ほかのセッションはログアウトされました。";

    // --- not found ---
    NotFoundTitle => "Page not found", "ページが見つかりません";
    NotFoundBody => "The address may be mistyped, or the page has moved.", "アドレスが間違っているか、ページが移動した可能性があります。";
    BackToDashboard => "Go to the dashboard", "ダッシュボードへ";

    // --- audit actions (the server's action codes, in words) ---
    ActApiTokenCreate => "Created an API token", "API トークンを作成";
    ActApiTokenRevoke => "Revoked an API token", "API トークンを無効化";
    ActConnectionCreate => "Created a connection", "接続を作成";
    ActConnectionUpdate => "Changed a connection", "接続を変更";
    ActConnectionDelete => "Deleted a connection", "接続を削除";
    ActConnectionShare => "Shared a connection", "接続を共有";
    ActInvitationCreate => "Invited someone", "メンバーを招待";
    ActInvitationRevoke => "Withdrew an invitation", "招待を取り消し";
    ActInvitationAccept => "Accepted an invitation", "招待を承諾";
    ActJobCreate => "Created a job", "ジョブを作成";
    ActJobUpdate => "Changed a job", "ジョブを変更";
    ActJobDelete => "Deleted a job", "ジョブを削除";
    ActJobShare => "Shared a job", "ジョブを共有";
    ActJobEnable => "Enabled a job", "ジョブを有効化";
    ActJobDisable => "Disabled a job", "ジョブを無効化";
    ActJobDuplicate => "Duplicated a job", "ジョブを複製";
    ActJobImport => "Imported a job", "ジョブをインポート";
    ActMemberCreate => "Created an account", "アカウントを作成";
    ActMemberRoleChange => "Changed a member's role", "メンバーのロールを変更";
    ActMemberRemove => "Removed a member", "メンバーを削除";
    ActMemberPasswordChange => "Changed their password", "パスワードを変更";
    ActOrganizationCreate => "Created the organization", "組織を作成";
    ActOrganizationRename => "Renamed the organization", "組織名を変更";
    ActRunStart => "Started a run", "ジョブを実行";
    ActRunCancel => "Cancelled a run", "実行を中止";
    ActRunRerun => "Re-ran a run", "再実行";
    ActTeamCreate => "Created a team", "チームを作成";
    ActTeamRename => "Renamed a team", "チーム名を変更";
    ActTeamDelete => "Deleted a team", "チームを削除";
    ActTeamMemberAdd => "Added a team member", "チームにメンバーを追加";
    ActTeamMemberRoleChange => "Changed a team role", "チームでのロールを変更";
    ActTeamMemberRemove => "Removed a team member", "チームからメンバーを外す";

    // --- server messages (English side: the server's exact words, {n} for a number) ---
    MsgRequired => "is required", "入力してください。";
    MsgTooLong => "must be at most {n} characters", "{n} 文字以内で入力してください。";
    MsgControlChars => "must not contain control characters such as line breaks", "改行などの制御文字は使えません。";
    MsgEmail => "must be an email address such as name@example.com", "name@example.com のような形式のメールアドレスを入力してください。";
    MsgPasswordShort => "must be at least {n} characters long", "{n} 文字以上にしてください。";
    MsgPasswordLong => "must be at most {n} characters long", "{n} 文字以内にしてください。";
    MsgSamePassword => "must differ from the current password", "現在のパスワードとは違うものにしてください。";
    MsgSameTeamTwice => "lists the same team twice", "同じチームが 2 回指定されています。";
    MsgDays => "must be a number of days from 1 to {n}", "1 から {n} までの日数を入力してください。";
    MsgNotCurrentPassword => "is not your current password", "現在のパスワードと一致しません。";
    MsgNotATeam => "is not a team of this organization", "この組織のチームではありません。";
    MsgWrongPassword => "The email or password is wrong.", "メールアドレスまたはパスワードが正しくありません。";
    MsgDuplicateAccount => "An account with this email already exists. Sign in instead, or use another email.", "このメールアドレスのアカウントはすでに存在します。ログインするか、別のメールアドレスを使ってください。";
    MsgAlreadyMember => "Someone with this email already has an account.", "このメールアドレスのアカウントはすでに存在します。";
    MsgInvalidInvitation => "This invitation link is not valid any more: it was used, withdrawn or has expired. Ask your administrator for a new one.", "この招待リンクは無効です。使用済みか、取り消されたか、期限切れです。管理者に新しいリンクを依頼してください。";
    MsgDuplicateTeam => "A team with this name already exists.", "この名前のチームはすでに存在します。";
    MsgOnlyOwner => "This is the organization's only owner. Make someone else an owner first.", "この人は組織で唯一のオーナーです。先に別の人をオーナーにしてください。";
    MsgOnlyOwnerRemove => "This is the organization's only owner and cannot be removed.", "組織で唯一のオーナーは削除できません。";
    MsgSignedOut => "You are not signed in, or your session has ended. Sign in again.", "ログインしていないか、セッションが終了しました。もう一度ログインしてください。";
    MsgAccountGone => "Your account no longer exists.", "あなたのアカウントはもう存在しません。";
    MsgRateAccount => "Too many failed sign-in attempts for this account. Wait {n} minutes and try again.", "このアカウントへのログイン失敗が多すぎます。{n} 分待ってから、もう一度お試しください。";
    MsgRateIp => "Too many failed sign-in attempts from your network address. Wait {n} minutes and try again.", "お使いのネットワークからのログイン失敗が多すぎます。{n} 分待ってから、もう一度お試しください。";
    MsgDatabaseDown => "The service cannot reach its database right now. Try again in a moment.", "現在、サービスがデータベースに接続できません。しばらくしてからもう一度お試しください。";
    MsgInternal => "Something went wrong on our side. Try again; if it keeps happening, tell your administrator the time and what you did.", "サーバー側で問題が発生しました。もう一度お試しください。繰り返し起きる場合は、日時と操作内容を管理者に伝えてください。";
    MsgForbidden => "Your role does not allow you to do this.", "あなたのロールではこの操作はできません。";
    MsgNotFound => "It was not found. It may have been deleted.", "見つかりません。削除された可能性があります。";
}

/// The server messages `translate_message` knows.
const SERVER_MESSAGES: &[Key] = &[
    Key::MsgRequired,
    Key::MsgTooLong,
    Key::MsgControlChars,
    Key::MsgEmail,
    Key::MsgPasswordShort,
    Key::MsgPasswordLong,
    Key::MsgSamePassword,
    Key::MsgSameTeamTwice,
    Key::MsgDays,
    Key::MsgNotCurrentPassword,
    Key::MsgNotATeam,
    Key::MsgWrongPassword,
    Key::MsgDuplicateAccount,
    Key::MsgAlreadyMember,
    Key::MsgInvalidInvitation,
    Key::MsgDuplicateTeam,
    Key::MsgOnlyOwner,
    Key::MsgOnlyOwnerRemove,
    Key::MsgSignedOut,
    Key::MsgAccountGone,
    Key::MsgRateAccount,
    Key::MsgRateIp,
    Key::MsgDatabaseDown,
    Key::MsgInternal,
];

/// `text` with each `{name}` replaced by its value.
pub fn fill(lang: Lang, key: Key, values: &[(&str, &str)]) -> String {
    let mut out = key.text(lang).to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// A message from the server, in `lang`. With a field `label`, English reads
/// "Email is required"; Japanese shows the sentence alone, beside the field it is about.
/// Messages not in the table stay as the server wrote them.
pub fn translate_message(lang: Lang, label: Option<&str>, message: &str) -> String {
    match lang {
        Lang::En => match label {
            Some(label) if message.starts_with(|c: char| c.is_lowercase()) => {
                format!("{label} {message}")
            }
            _ => message.to_owned(),
        },
        Lang::Ja => japanese_message(message).unwrap_or_else(|| message.to_owned()),
    }
}

fn japanese_message(message: &str) -> Option<String> {
    // The one number a message may carry becomes `{n}` to find its template.
    let start = message.find(|c: char| c.is_ascii_digit());
    let (template, number) = match start {
        Some(i) => {
            let end = message[i..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(message.len(), |e| i + e);
            (
                format!("{}{{n}}{}", &message[..i], &message[end..]),
                &message[i..end],
            )
        }
        None => (message.to_owned(), ""),
    };
    if let Some(key) = SERVER_MESSAGES
        .iter()
        .find(|k| k.text(Lang::En) == template || k.text(Lang::En) == message)
    {
        return Some(key.text(Lang::Ja).replace("{n}", number));
    }
    // Messages built around a variable phrase.
    if message.starts_with("Your role does not allow you to ") {
        return Some(Key::MsgForbidden.text(Lang::Ja).to_owned());
    }
    if message.ends_with(" not found") || message == "not found" {
        return Some(Key::MsgNotFound.text(Lang::Ja).to_owned());
    }
    None
}

/// The audit log's action code (`team.create`) in words, when it is a known one.
pub fn audit_action(code: &str) -> Option<Key> {
    Some(match code {
        "api_token.create" => Key::ActApiTokenCreate,
        "api_token.revoke" => Key::ActApiTokenRevoke,
        "connection.create" => Key::ActConnectionCreate,
        "connection.update" => Key::ActConnectionUpdate,
        "connection.delete" => Key::ActConnectionDelete,
        "connection.share" => Key::ActConnectionShare,
        "invitation.create" => Key::ActInvitationCreate,
        "invitation.revoke" => Key::ActInvitationRevoke,
        "invitation.accept" => Key::ActInvitationAccept,
        "job.create" => Key::ActJobCreate,
        "job.update" => Key::ActJobUpdate,
        "job.delete" => Key::ActJobDelete,
        "job.share" => Key::ActJobShare,
        "job.enable" => Key::ActJobEnable,
        "job.disable" => Key::ActJobDisable,
        "job.duplicate" => Key::ActJobDuplicate,
        "job.import" => Key::ActJobImport,
        "member.create" => Key::ActMemberCreate,
        "member.role_change" => Key::ActMemberRoleChange,
        "member.remove" => Key::ActMemberRemove,
        "member.password_change" => Key::ActMemberPasswordChange,
        "organization.create" => Key::ActOrganizationCreate,
        "organization.rename" => Key::ActOrganizationRename,
        "run.start" => Key::ActRunStart,
        "run.cancel" => Key::ActRunCancel,
        "run.rerun" => Key::ActRunRerun,
        "team.create" => Key::ActTeamCreate,
        "team.rename" => Key::ActTeamRename,
        "team.delete" => Key::ActTeamDelete,
        "team.member_add" => Key::ActTeamMemberAdd,
        "team.member_role_change" => Key::ActTeamMemberRoleChange,
        "team.member_remove" => Key::ActTeamMemberRemove,
        _ => return None,
    })
}

pub fn role_name(lang: Lang, role: OrgRole) -> &'static str {
    match role {
        OrgRole::Owner => Key::RoleOwner,
        OrgRole::Admin => Key::RoleAdmin,
        OrgRole::Member => Key::RoleMember,
    }
    .text(lang)
}

pub fn team_role_name(lang: Lang, role: TeamRole) -> &'static str {
    match role {
        TeamRole::Viewer => Key::TeamRoleViewer,
        TeamRole::Operator => Key::TeamRoleOperator,
        TeamRole::Editor => Key::TeamRoleEditor,
        TeamRole::Admin => Key::TeamRoleAdmin,
    }
    .text(lang)
}

/// The current language, in context.
pub fn use_lang() -> RwSignal<Lang> {
    expect_context::<RwSignal<Lang>>()
}

/// A reactive text for views: `{tr(Key::SignIn)}` follows the language switch.
pub fn tr(key: Key) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
    let lang = use_lang();
    move || key.text(lang.get())
}

const STORAGE_KEY: &str = "hakobu.lang";

/// Puts the language in context: the user's last choice, else the browser's language.
pub fn provide_lang() {
    let lang = RwSignal::new(initial_lang());
    provide_context(lang);
    // `<html lang>` lets screen readers pronounce the text in the right language.
    Effect::new(move |_| {
        let code = lang.get().code();
        #[cfg(target_arch = "wasm32")]
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("lang", code);
        }
        #[cfg(not(target_arch = "wasm32"))]
        let _ = code;
    });
}

/// Switches the language and remembers the choice in this browser.
pub fn set_lang(lang: Lang) {
    use_lang().set(lang);
    #[cfg(target_arch = "wasm32")]
    if let Ok(Some(storage)) = window().local_storage() {
        let _ = storage.set_item(STORAGE_KEY, lang.code());
    }
}

fn initial_lang() -> Lang {
    #[cfg(target_arch = "wasm32")]
    {
        let stored = window()
            .local_storage()
            .ok()
            .flatten()
            .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten())
            .and_then(|code| Lang::from_code(&code));
        stored.unwrap_or_else(|| {
            Lang::from_browser(&window().navigator().language().unwrap_or_default())
        })
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = STORAGE_KEY;
        Lang::En
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn placeholders(text: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            let Some(len) = rest[start..].find('}') else {
                break;
            };
            out.insert(rest[start..start + len + 1].to_owned());
            rest = &rest[start + len + 1..];
        }
        out
    }

    #[test]
    fn every_key_has_text_in_every_language() {
        for &key in Key::ALL {
            for lang in Lang::ALL {
                assert!(
                    !key.text(lang).trim().is_empty(),
                    "{key:?} is empty in {lang:?}"
                );
            }
        }
    }

    #[test]
    fn both_languages_use_the_same_placeholders() {
        for &key in Key::ALL {
            let en = placeholders(key.text(Lang::En));
            let ja = placeholders(key.text(Lang::Ja));
            // The English time-zone line also names the zone's id; Japanese shows its name only.
            if key == Key::TimesShownIn {
                assert!(ja.is_subset(&en));
                continue;
            }
            assert_eq!(en, ja, "{key:?}");
        }
    }

    /// Japanese text keeps only the Latin words that are names or codes (Hakobu, API,
    /// CSV, the example address and the audit action names the filter expects).
    #[test]
    fn japanese_has_no_english_left() {
        let allowed = [
            "Hakobu",
            "API",
            "CSV",
            "name",
            "example",
            "com",
            "team",
            "create",
            "user",
            "invitation",
            "n",
            "page",
            "pages",
            "total",
            "email",
            "from",
            "to",
            "zone",
        ];
        for &key in Key::ALL {
            let ja = key.text(Lang::Ja);
            for word in ja
                .split(|c: char| !c.is_ascii_alphabetic())
                .filter(|w| !w.is_empty())
            {
                assert!(allowed.contains(&word), "{key:?}: {word:?} in {ja:?}");
            }
        }
    }

    #[test]
    fn server_messages_translate_with_their_number() {
        assert_eq!(
            translate_message(
                Lang::Ja,
                Some("パスワード"),
                "must be at least 10 characters long"
            ),
            "10 文字以上にしてください。"
        );
        assert_eq!(
            translate_message(
                Lang::En,
                Some("Password"),
                "must be at least 10 characters long"
            ),
            "Password must be at least 10 characters long"
        );
        assert_eq!(
            translate_message(Lang::Ja, None, "The email or password is wrong."),
            "メールアドレスまたはパスワードが正しくありません。"
        );
        assert_eq!(
            translate_message(Lang::Ja, None, "team not found"),
            Key::MsgNotFound.text(Lang::Ja)
        );
        assert_eq!(
            translate_message(Lang::Ja, None, "Unknown words"),
            "Unknown words"
        );
        assert_eq!(
            translate_message(Lang::En, Some("Email"), "Someone has it."),
            "Someone has it."
        );
    }

    #[test]
    fn core_validator_messages_are_all_translated() {
        use hakobu_core::api::auth::{ChangePasswordRequest, SignupRequest};
        let bad = SignupRequest {
            organization_name: "x".repeat(200),
            name: "a\nb".to_owned(),
            email: "nope".to_owned(),
            password: "short".to_owned(),
        };
        let same = ChangePasswordRequest {
            current_password: "long enough password".to_owned(),
            new_password: "long enough password".to_owned(),
        };
        let errors = [bad.validate().unwrap_err(), same.validate().unwrap_err()];
        for e in errors.iter().flat_map(|e| e.0.iter()) {
            assert!(
                japanese_message(&e.message).is_some(),
                "untranslated: {}",
                e.message
            );
        }
    }

    #[test]
    fn browser_language() {
        assert_eq!(Lang::from_browser("ja-JP"), Lang::Ja);
        assert_eq!(Lang::from_browser("ja"), Lang::Ja);
        assert_eq!(Lang::from_browser("en-GB"), Lang::En);
        assert_eq!(Lang::from_browser("fr"), Lang::En);
    }
}

//! Japanese for `core`'s message catalogue ([`hakobu_core::messages`]).
//!
//! The server and `core`'s validators send a message's code and the values of its parts
//! beside the English sentence; the UI says it in Japanese from this table, so no English
//! wording is matched. The `match` is exhaustive: a message added to the catalogue does not
//! build until it has its Japanese here.

use hakobu_core::messages::MessageCode;

/// The Japanese template of a message, `{name}` parts as in its English template. A part
/// may be left out where Japanese reads better without it (the English phrase of
/// `forbidden`'s action, `named_not_found`'s noun).
pub fn japanese_template(code: MessageCode) -> &'static str {
    match code {
        MessageCode::Required => "入力してください。",
        MessageCode::TooLong => "{n} 文字以内で入力してください。",
        MessageCode::ControlCharacters => "改行などの制御文字は使えません。",
        MessageCode::NotAnEmail => {
            "name@example.com のような形式のメールアドレスを入力してください。"
        }
        MessageCode::PasswordTooShort => "{n} 文字以上にしてください。",
        MessageCode::PasswordTooLong => "{n} 文字以内にしてください。",
        MessageCode::SamePassword => "現在のパスワードとは違うものにしてください。",
        MessageCode::SameTeamTwice => "同じチームが 2 回指定されています。",
        MessageCode::TokenDays => "1 から {n} までの日数を入力してください。",
        MessageCode::NotCurrentPassword => "現在のパスワードと一致しません。",
        MessageCode::NotATeam => "この組織のチームではありません。",
        MessageCode::WrongPassword => "メールアドレスまたはパスワードが正しくありません。",
        MessageCode::DuplicateAccount => {
            "このメールアドレスのアカウントはすでに存在します。ログインするか、別のメールアドレスを使ってください。"
        }
        MessageCode::AlreadyMember => "このメールアドレスのアカウントはすでに存在します。",
        MessageCode::InvalidInvitation => {
            "この招待リンクは無効です。使用済みか、取り消されたか、期限切れです。管理者に新しいリンクを依頼してください。"
        }
        MessageCode::DuplicateTeam => "この名前のチームはすでに存在します。",
        MessageCode::OnlyOwner => {
            "この人は組織で唯一のオーナーです。先に別の人をオーナーにしてください。"
        }
        MessageCode::OnlyOwnerRemove => "組織で唯一のオーナーは削除できません。",
        MessageCode::SignedOut => {
            "ログインしていないか、セッションが終了しました。もう一度ログインしてください。"
        }
        MessageCode::AccountGone => "あなたのアカウントはもう存在しません。",
        MessageCode::TooManyFailuresAccount => {
            "このアカウントへのログイン失敗が多すぎます。{n} 分待ってから、もう一度お試しください。"
        }
        MessageCode::TooManyFailuresAddress => {
            "お使いのネットワークからのログイン失敗が多すぎます。{n} 分待ってから、もう一度お試しください。"
        }
        MessageCode::TooManyAccountRequests => {
            "お使いのネットワークからのアカウント登録・パスワード再設定・招待の受諾が多すぎます。{n} 分待ってから、もう一度お試しください。"
        }
        MessageCode::TooManyProbesUser => {
            "接続テスト・プレビュー・スキーマ取得は 1 人あたり毎分 {limit} 回までです。{n} 秒待ってから、もう一度お試しください。"
        }
        MessageCode::TooManyProbesOrganization => {
            "この組織の接続テスト・プレビュー・スキーマ取得が上限（毎分 {limit} 回）に達しました。{n} 秒待ってから、もう一度お試しください。"
        }
        MessageCode::DatabaseUnavailable => {
            "現在、サービスがデータベースに接続できません。しばらくしてからもう一度お試しください。"
        }
        MessageCode::Internal => {
            "サーバー側で問題が発生しました。もう一度お試しください。繰り返し起きる場合は、日時と操作内容を管理者に伝えてください。"
        }
        MessageCode::Forbidden => "あなたのロールではこの操作はできません。",
        MessageCode::NotFound | MessageCode::NamedNotFound => {
            "見つかりません。削除された可能性があります。"
        }
        MessageCode::SingleSelect => {
            "SELECT 文（または WITH ... SELECT）を 1 つだけ書いてください。"
        }
        MessageCode::SingleStatement => "文は 1 つにしてください。文の間の ; を削除してください。",
        MessageCode::SlackUrlRequired => {
            "入力してください。Slack で発行した受信 Webhook の URL を貼り付けてください。"
        }
        MessageCode::UrlScheme => "https://（または http://）で始まる URL を入力してください。",
        MessageCode::UrlHost => "ホスト名を含めてください（例：https://hooks.example.com/path）。",
        MessageCode::HeaderName => {
            "英数字、- または _ で 1〜100 文字にしてください（例：Authorization）。"
        }
        MessageCode::HeaderReserved => "Hakobu が設定するため変更できません。",
        MessageCode::ListedTwice => "2 回指定されています。",
        MessageCode::DuplicateDestination => "この名前の送信先はすでに存在します。",
        MessageCode::NotConfirmedYet => {
            "このメールアドレスはまだ確認されていません。先に確認メールのリンクを開いてください。"
        }
        MessageCode::ThresholdSecondsRequired => {
            "入力してください。何秒経過したら通知するかを指定します。"
        }
        MessageCode::ThresholdRowsRequired => "入力してください。比べる行数を指定します。",
        MessageCode::SlackMention => {
            "Slack のメンバーまたはグループの ID、here、channel のいずれかにしてください。"
        }
        MessageCode::NotADestination => "この組織の通知先ではありません。",
        MessageCode::ResetLinkInvalid => {
            "このパスワード再設定リンクは無効です。使用済みか、新しいリンクに置き換えられたか、期限切れです。新しいリンクを依頼してください。"
        }
        MessageCode::ResetTokenRequired => "入力してください。メールのリンクを使ってください。",
        MessageCode::SecretCleared => {
            "{changed} が変わったため消去しました。もう一度入力してください。"
        }
        MessageCode::SecretReenter => {
            "{changed} が変わったため、もう一度入力してください。保存した秘密情報は保存した接続先にだけ送られます。"
        }
        MessageCode::SecretForChangedSetting => {
            "保存した接続と違います。テストするには {secret} をもう一度入力してください。保存した {secret} は保存した接続先にだけ送られます。"
        }
        MessageCode::TooManyStreams => {
            "実行のライブ表示をすでに {limit} 個開いています。実行を表示しているタブをいくつか閉じてから、このページを再読み込みしてください。"
        }
        MessageCode::FargateMemory => {
            "{cpu} vCPU で選べるメモリ量にしてください：{from}〜{to} MiB（{step} MiB 単位）"
        }
        MessageCode::QuotaJobs => {
            "この組織のジョブ数が上限（{limit} 件）に達しました。不要なジョブを削除するか、Hakobu の運用者に上限の引き上げを依頼してください。"
        }
        MessageCode::QuotaSchedules => {
            "この組織のスケジュール数が上限（{limit} 件）に達しました。不要なスケジュールを削除するか、Hakobu の運用者に上限の引き上げを依頼してください。"
        }
        MessageCode::QuotaQueuedRuns => {
            "この組織にはすでに開始待ちの実行が上限の {limit} 件あります。開始を待つか、不要な実行をキャンセルしてから、もう一度お試しください。"
        }
        MessageCode::ReadOnlyToken => {
            "この API トークンは読み取り専用で、変更はできません。変更するにはフルアクセスのトークンを作成してください。"
        }
        MessageCode::SelectOneValue => "入力してください。値を 1 つ返す SELECT 文です。",
        MessageCode::FormatRequired => "入力してください（例：%Y-%m-%d）。",
        MessageCode::CheckNameRequired => "入力してください。何を確かめるチェックかを書きます。",
        MessageCode::CheckNameTaken => "このジョブの別のチェックが使っています。",
        MessageCode::NotBefore => "開始より前にはできません。",
        MessageCode::DateTime => "日時を入力してください（例：2026-11-01 00:00）。",
        MessageCode::WholeNumber => "整数を入力してください。",
        MessageCode::MinuteOfHour => "0 から 59 までの分を入力してください。",
        MessageCode::ChooseWeekday => "曜日を 1 つ以上選んでください。",
        MessageCode::WeekdayTwice => "同じ曜日が 2 回以上指定されています。",
        MessageCode::DayOfMonth => "1 から 31 までの日を入力してください。",
        MessageCode::NeverFires => {
            "この設定では実行されません（今後 8 年間に該当する日時がありません）。"
        }
        MessageCode::BadFormat => {
            "{format} は正しい書式ではありません。%Y（年）、%m（月）、%d（日）、%H（時）、%M（分）などの strftime の記号を使ってください。"
        }
        MessageCode::UrlTooLong => "空白を含まない {n} 文字以内で入力してください。",
        MessageCode::HeaderValueTooLong => "改行を含まない {n} 文字以内で入力してください。",
        MessageCode::TooManyHeaders => "ヘッダーは {n} 個までです。",
        MessageCode::DeliveredStatus => "送信しました（送信先の応答：{n}）。",
        MessageCode::DeliveredMail => "送信しました（メールサーバーが受け取りました）。",
        MessageCode::ThresholdSecondsRange => "1〜{max} 秒（7 日）の範囲で入力してください。",
        MessageCode::RowsAtLeast => "{n} 行以上にしてください。",
        MessageCode::ThresholdNotApplicable => {
            "しきい値は行数と時間の条件にだけ使えます（{event} には使えません）。"
        }
        MessageCode::OneLine => "{n} 文字以内の 1 行にしてください。",
        MessageCode::TemplateBroken => {
            "テンプレートを展開できません：{detail}。使える名前：{names}"
        }
        MessageCode::NotAVariable => {
            "{position} 文字目の {found} は変数ではありません。変数は $name$（英数字と _）、ドル記号は $$ と書きます。"
        }
        MessageCode::UnknownVariable => {
            "{position} 文字目の {var} は未定義の変数です。ここで使える変数：{known}"
        }
        MessageCode::QuotedVariable => {
            "{position} 文字目の {var} が引用符またはコメントの中にあります。Hakobu が値を引用符付きの SQL の値として書き込むので、周りの引用符を外してください。"
        }
        MessageCode::VariableName => {
            "英字または _ で始まる英数字と _（{n} 文字以内）で指定してください（例：target_date）。"
        }
        MessageCode::BuiltIn => "{var} は組み込み変数です。別の名前にしてください。",
        MessageCode::NameTaken => "{other} がすでに {var} という名前を使っています。",
        MessageCode::UnknownZone => {
            "{zone} というタイムゾーンはありません。Asia/Tokyo や UTC のような IANA の名前を指定してください。"
        }
        MessageCode::FromToSeconds => "{from} から {to} 秒までにしてください。",
        MessageCode::FromTo => "{from} から {to} までの値にしてください。",
        MessageCode::MaxVariables => "1 つのジョブの変数は {n} 個までです。",
        MessageCode::RangeRuns => {
            "この期間では {n} 件の実行になります。一度に登録できるのは {max} 件までです。"
        }
        MessageCode::NoSuchVariable => "このジョブに {var} という変数はありません。",
        MessageCode::BuiltInValue => "組み込み変数なので値を指定できません。",
        MessageCode::NameValueLine => "{n} 行目は 名前=値 の形にしてください。",
        MessageCode::NotATime => {
            "{time} は時刻ではありません。24 時間表記の 時:分 で入力してください（例：02:30、18:00）。"
        }
        MessageCode::ScheduleZone => {
            "{zone} というタイムゾーンはありません。Asia/Tokyo や UTC のような IANA の名前を指定してください。"
        }
        MessageCode::CronFields => {
            "分・時・日・月・曜日の 5 項目を空白で区切って入力してください（例：30 2 * * 1-5）。入力された項目数：{found}"
        }
        MessageCode::CronInvalid => "正しいクロン式ではありません：{detail}",
        MessageCode::PathAbsolute => {
            "組織のファイル用フォルダー内のパス（例：exports/orders_）を入力してください。/ で始まるパスは使えません。"
        }
        MessageCode::PathLeavesFolder => "このパスは組織のファイル用フォルダーの外を指しています。",
        MessageCode::LocalFilesOff => {
            "このサービスでは {kind} 接続は使えません。運用者が Hakobu サーバー上のファイル用フォルダー（HAKOBU_LOCAL_FILES_ROOT）を設定していません。"
        }
        MessageCode::TemplateTooLong => {
            "テンプレートが {size} を超えています。テンプレートは {size} までです。"
        }
        MessageCode::TemplateLoops => {
            "テンプレートの繰り返しが {n} 回を超えています。繰り返しは合計 {n} 回までです。"
        }
        MessageCode::TemplateOutput => {
            "テンプレートの出力が {size} を超えています。出力は {size} までです。"
        }
        MessageCode::TemplateValue => {
            "テンプレートで作る値（代入、キャプチャ、フィルターの結果）が {size} を超えています。値は {size} までです。"
        }
        MessageCode::TemplateValues => {
            "テンプレートで代入、キャプチャした値が合計 {size} を超えています。合計 {size} までです。"
        }
        MessageCode::TemplateTime => {
            "テンプレートの展開に {seconds} 秒以上かかっています。展開は {seconds} 秒までです。"
        }
        MessageCode::TemplateIncludes => {
            "テンプレートのインクルードが {n} 段を超えて入れ子になっています。入れ子は {n} 段までです。"
        }
        MessageCode::PreviewTruncated => {
            "{size} に収めるため、プレビューを途中までにしています。{value_size} を超える値は … で切り、それより後の行は表示していません。"
        }
        MessageCode::RoleArn => {
            "IAM ロールの ARN を入力してください：arn:aws:iam::<12 桁のアカウント ID>:role/<名前>（例：arn:aws:iam::123456789012:role/hakobu-reader）。"
        }
        MessageCode::AmbientRoleOff => {
            "このサービスでは使えません。Hakobu 自身のクラウドロールは他の組織のデータにも届くためです。Hakobu が引き受ける、あなたの AWS アカウントのロールの ARN（assume_role と role_arn）か、アクセスキーの組を指定してください。"
        }
    }
}

/// The messages whose Japanese leaves out some of the English parts, on purpose: those
/// parts are English words, which a Japanese sentence would not carry.
#[cfg(test)]
pub const PARTS_LEFT_OUT: &[MessageCode] = &[MessageCode::Forbidden, MessageCode::NamedNotFound];

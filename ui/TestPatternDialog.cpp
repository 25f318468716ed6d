#include "TestPatternDialog.h"

#include "config/Config.h"
#include "config/RewriteRules.h"
#include "rewrite/Rewriter.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileInfo>
#include <QFormLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

using namespace lido;
using namespace lido::config;

TestPatternDialog::TestPatternDialog(std::shared_ptr<const Config> config, const ConfigElement* rule, QString root, QWidget* parent)
    : QDialog(parent), config_(std::move(config)), rule_(rule), root_(std::move(root)), pattern_(new QLineEdit), syntax_(new QComboBox),
      ignoreCase_(new QCheckBox(tr("Ignore case"))), input_(new QLineEdit), status_(new QLabel), captures_(new QTableWidget(0, 2)),
      result_(new QLabel)
{
    setObjectName("testPatternDialog");
    setWindowTitle(tr("Test pattern of rule %1").arg(QString::fromStdString(rule->get("name"))));
    const ConfigElement* match = rule->child("match");
    configuredPattern_ = match ? QString::fromStdString(match->get("url")) : QString();
    pattern_->setText(configuredPattern_);
    pattern_->setObjectName("patternEdit");
    syntax_->addItems({"ECMAScript", "Wildcard", "ExactMatch"});
    syntax_->setCurrentText(QString::fromStdString(rule->get("patternSyntax")));
    ignoreCase_->setChecked(!match || match->get("ignoreCase") != "false");
    input_->setObjectName("inputEdit");
    input_->setPlaceholderText(tr("a URL path without its leading slash, e.g. blog/2026/12/hello-world?p=1"));
    status_->setObjectName("statusLabel");
    status_->setWordWrap(true);
    captures_->setObjectName("captureTable");
    captures_->setHorizontalHeaderLabels({tr("Back-reference"), tr("Value")});
    captures_->horizontalHeader()->setStretchLastSection(true);
    captures_->verticalHeader()->hide();
    result_->setObjectName("resultLabel");
    result_->setWordWrap(true);
    result_->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto* form = new QFormLayout;
    form->addRow(tr("Pattern:"), pattern_);
    form->addRow(tr("Syntax:"), syntax_);
    form->addRow(QString(), ignoreCase_);
    form->addRow(tr("Input data to test:"), input_);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
    QPushButton* testButton = buttons->addButton(tr("&Test"), QDialogButtonBox::ActionRole);
    connect(testButton, &QPushButton::clicked, this, &TestPatternDialog::test);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(status_);
    layout->addWidget(captures_, 1);
    layout->addWidget(result_);
    layout->addWidget(buttons);
    // Checked and run as it is typed.
    connect(pattern_, &QLineEdit::textChanged, this, &TestPatternDialog::test);
    connect(input_, &QLineEdit::textChanged, this, &TestPatternDialog::test);
    connect(syntax_, &QComboBox::currentTextChanged, this, &TestPatternDialog::test);
    connect(ignoreCase_, &QCheckBox::toggled, this, &TestPatternDialog::test);
    resize(640, 460);
    test();
}

void TestPatternDialog::test()
{
    QString url = input_->text();
    QString query;
    if (int q = url.indexOf('?'); q >= 0) {
        query = url.mid(q + 1);
        url = url.left(q);
    }
    if (url.startsWith('/'))
        url.remove(0, 1);
    PatternSyntax syntax = syntax_->currentText() == "Wildcard" ? PatternSyntax::Wildcard
                           : syntax_->currentText() == "ExactMatch" ? PatternSyntax::ExactMatch
                                                                    : PatternSyntax::ECMAScript;
    PatternTest t = testPattern(pattern_->text().toStdString(), syntax, ignoreCase_->isChecked(), false, url.toStdString());
    captures_->setRowCount(0);
    pattern_->setStyleSheet(t.problem.empty() ? QString() : QStringLiteral("QLineEdit { background: #ffd0d0; }"));
    if (!t.problem.empty()) {
        status_->setText(QStringLiteral("<font color='#b00020'><b>%1</b></font>")
                             .arg(tr("The pattern does not compile: %1").arg(QString::fromStdString(t.problem)).toHtmlEscaped()));
        result_->clear();
        return;
    }
    status_->setText(t.matched ? tr("The input data matches the pattern.") : tr("The input data does not match the pattern."));
    for (size_t i = 0; i < t.captures.size(); ++i) {
        int row = captures_->rowCount();
        captures_->insertRow(row);
        captures_->setItem(row, 0, new QTableWidgetItem(QStringLiteral("{R:%1}").arg(i)));
        captures_->setItem(row, 1, new QTableWidgetItem(QString::fromStdString(t.captures[i])));
    }
    // The rule as configured, on the same URL: conditions, then its action.
    if (pattern_->text() != configuredPattern_) {
        result_->setText(tr("The pattern differs from the rule's: apply it to see what the rule does."));
        return;
    }
    ConfigElement rules;
    rules.name = "rules";
    rules.children.push_back(*rule_);
    const ConfigElement* maps = config_ ? config_->section("system.webServer/rewrite/rewriteMaps") : nullptr;
    RewriteRules parsed = parseRewriteRules(&rules, maps, {}, nullptr);
    rewrite::Context context;
    std::string root = root_.toStdString();
    context.variable = [root](const std::string& name, const std::string& urlPath) -> std::optional<std::string> {
        if (name == "REQUEST_FILENAME" && !root.empty())
            return root + urlPath;
        if (name == "URL" || name == "PATH_INFO")
            return urlPath;
        return std::nullopt;
    };
    context.exists = [](const std::string& path, bool directory) {
        QFileInfo f(QString::fromStdString(path));
        return directory ? f.isDir() : f.isFile();
    };
    rewrite::Outcome o = rewrite::run(parsed, "/" + url.toStdString(), query.toStdString(), context);
    QString what;
    switch (o.kind) {
    case rewrite::Outcome::Kind::Rewrite:
        what = tr("The rule rewrites it to %1").arg(QString::fromStdString(o.path + (o.query.empty() ? "" : "?" + o.query)));
        break;
    case rewrite::Outcome::Kind::Redirect:
        what = tr("The rule redirects (%1) to %2").arg(o.status).arg(QString::fromStdString(o.location));
        break;
    case rewrite::Outcome::Kind::CustomResponse: what = tr("The rule answers %1 %2").arg(o.status).arg(QString::fromStdString(o.reason)); break;
    case rewrite::Outcome::Kind::Abort: what = tr("The rule aborts the request"); break;
    case rewrite::Outcome::Kind::None:
        what = o.matched.empty() ? tr("The rule does not apply (its pattern or conditions do not match)") : tr("The rule matches and does nothing (action None)");
        break;
    }
    result_->setText(what + (root_.isEmpty() ? QString() : tr(" (IsFile and IsDirectory in %1)").arg(root_)));
}

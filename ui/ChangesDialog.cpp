#include "ChangesDialog.h"

#include "config/ConfigDiff.h"
#include "config/ConfigDocument.h"
#include "config/ConfigHistory.h"

#include <QComboBox>
#include <QDateTime>
#include <QDialogButtonBox>
#include <QFile>
#include <QFileDialog>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSplitter>
#include <QVBoxLayout>

using namespace lido::config;

namespace {

std::shared_ptr<const Config> parse(const QString& text, const QString& name, QString* error)
{
    auto doc = ConfigDocument::parse(text.toStdString(), name.toStdString());
    if (!doc) {
        if (error)
            *error = QString::fromStdString(doc.error());
        return nullptr;
    }
    return Config::fromDocument(*doc, ValidateOptions{false});
}

} // namespace

ChangesDialog::ChangesDialog(const QString& file, std::function<QString()> running, QWidget* parent)
    : QDialog(parent), file_(file), running_(std::move(running)), from_(new QComboBox), to_(new QComboBox), format_(new QComboBox),
      semantic_(new QPlainTextEdit), unified_(new QPlainTextEdit), status_(new QLabel)
{
    setWindowTitle(tr("Export changes — %1").arg(file));
    from_->setObjectName("fromVersion");
    to_->setObjectName("toVersion");
    auto addVersions = [this](QComboBox* box) {
        if (running_ && !running_().isEmpty())
            box->addItem(tr("Running (the engine's)"), "running");
        if (file_.isEmpty()) // two servers' running configurations (addSource)
            return;
        box->addItem(tr("Saved (%1)").arg(file_), "saved");
        auto config = loadConfig(file_.toStdString(), ValidateOptions{false});
        for (const HistoryEntry& e : historyFor(file_.toStdString(), config ? config->get() : nullptr).list())
            box->addItem(tr("History %1 (replaced %2)").arg(e.id).arg(QDateTime::fromSecsSinceEpoch(e.time).toString("yyyy-MM-dd HH:mm:ss")),
                         QString("history:%1").arg(e.id));
        box->addItem(tr("Another file…"), "file:");
    };
    addVersions(from_);
    addVersions(to_);
    // Default: what the last save changed (the newest history entry, listed first, against the
    // saved file); without history, running against saved.
    for (int i = 0; i < from_->count(); ++i)
        if (from_->itemData(i).toString().startsWith("history:")) {
            from_->setCurrentIndex(i); // the newest entry comes first
            break;
        }
    to_->setCurrentIndex(to_->findData("saved"));
    format_->addItem(tr("Unified diff"), static_cast<int>(Format::Unified));
    format_->addItem(tr("Semantic list"), static_cast<int>(Format::Semantic));
    format_->addItem(tr("lidoctl script"), static_cast<int>(Format::Script));

    QFont mono = QFontDatabase::systemFont(QFontDatabase::FixedFont);
    for (QPlainTextEdit* e : {semantic_, unified_}) {
        e->setReadOnly(true);
        e->setFont(mono);
        e->setLineWrapMode(QPlainTextEdit::NoWrap);
    }
    semantic_->setObjectName("semanticDiff");
    unified_->setObjectName("unifiedDiff");

    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(tr("From:")));
    top->addWidget(from_, 1);
    top->addWidget(new QLabel(tr("To:")));
    top->addWidget(to_, 1);
    auto* split = new QSplitter;
    split->addWidget(semantic_);
    split->addWidget(unified_);
    split->setSizes({450, 550});
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
    auto* exportButton = buttons->addButton(tr("&Export…"), QDialogButtonBox::ActionRole);
    exportButton->setObjectName("exportButton");
    auto* bottom = new QHBoxLayout;
    bottom->addWidget(status_, 1);
    bottom->addWidget(new QLabel(tr("Format:")));
    bottom->addWidget(format_);
    bottom->addWidget(buttons);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(split, 1);
    layout->addLayout(bottom);
    resize(1100, 640);

    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(exportButton, &QPushButton::clicked, this, &ChangesDialog::exportClicked);
    connect(from_, &QComboBox::activated, this, &ChangesDialog::recompute);
    connect(to_, &QComboBox::activated, this, &ChangesDialog::recompute);
    if (!file_.isEmpty())
        recompute();
}

void ChangesDialog::addSource(const QString& label, const QString& key, std::function<QString()> text)
{
    sources_.push_back({key, label, std::move(text)});
    for (QComboBox* box : {from_, to_})
        box->insertItem(0, label, key);
}

QString ChangesDialog::textOf(const QString& version, QString* name, QString* error) const
{
    for (const Source& s : sources_)
        if (s.key == version) {
            *name = s.label;
            QString text = s.text();
            if (text.isEmpty())
                *error = tr("%1: not known yet (the server has not answered)").arg(s.label);
            return text;
        }
    if (version == "running") {
        *name = file_ + " (running)";
        return running_ ? running_() : QString();
    }
    if (version == "saved") {
        *name = file_;
        QFile f(file_);
        if (!f.open(QIODevice::ReadOnly)) {
            *error = tr("cannot read %1").arg(file_);
            return {};
        }
        return QString::fromUtf8(f.readAll());
    }
    if (version.startsWith("history:")) {
        int id = version.mid(8).toInt();
        auto config = loadConfig(file_.toStdString(), ValidateOptions{false});
        auto text = historyFor(file_.toStdString(), config ? config->get() : nullptr).read(id);
        *name = file_ + tr(" (history %1)").arg(id);
        if (!text) {
            *error = QString::fromStdString(text.error());
            return {};
        }
        return QString::fromStdString(*text);
    }
    QString path = version.mid(5);
    *name = path;
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        *error = tr("cannot read %1").arg(path);
        return {};
    }
    return QString::fromUtf8(f.readAll());
}

void ChangesDialog::compare(const QString& from, const QString& to)
{
    for (auto [box, value] : {std::pair{from_, from}, std::pair{to_, to}}) {
        int at = box->findData(value);
        if (at < 0) {
            box->addItem(value.startsWith("file:") ? value.mid(5) : value, value);
            at = box->count() - 1;
        }
        box->setCurrentIndex(at);
    }
    recompute();
}

void ChangesDialog::recompute()
{
    for (QComboBox* box : {from_, to_})
        if (box->currentData().toString() == "file:") {
            QString path = QFileDialog::getOpenFileName(this, tr("Compare with"), file_, tr("Configuration (*.config *.xml);;All files (*)"));
            if (path.isEmpty()) {
                box->setCurrentIndex(box->findData("saved"));
            } else {
                box->insertItem(box->count() - 1, path, "file:" + path);
                box->setCurrentIndex(box->count() - 2);
            }
        }
    QString error;
    fromText_ = textOf(from_->currentData().toString(), &fromName_, &error);
    toText_ = textOf(to_->currentData().toString(), &toName_, &error);
    auto a = error.isEmpty() ? parse(fromText_, fromName_, &error) : nullptr;
    auto b = error.isEmpty() ? parse(toText_, toName_, &error) : nullptr;
    if (!a || !b) {
        semantic_->setPlainText(error);
        unified_->clear();
        status_->setText(tr("Cannot compare: %1").arg(error));
        return;
    }
    auto changes = semanticDiff(*a, *b);
    semantic_->setPlainText(changes.empty() ? tr("(no changes)") : QString::fromStdString(formatSemanticDiff(changes)));
    unified_->setPlainText(QString::fromStdString(unifiedDiff(fromText_.toStdString(), toText_.toStdString(), fromName_.toStdString(), toName_.toStdString())));
    status_->setText(tr("%n change(s)", nullptr, static_cast<int>(changes.size())));
}

QString ChangesDialog::semanticText() const { return semantic_->toPlainText(); }
QString ChangesDialog::unifiedText() const { return unified_->toPlainText(); }

bool ChangesDialog::exportTo(const QString& path, Format format, QString* error) const
{
    QString why;
    auto a = parse(fromText_, fromName_, &why);
    auto b = parse(toText_, toName_, &why);
    if (!a || !b) {
        if (error)
            *error = why;
        return false;
    }
    std::string out = format == Format::Unified    ? unifiedDiff(fromText_.toStdString(), toText_.toStdString(), fromName_.toStdString(), toName_.toStdString())
                      : format == Format::Semantic ? formatSemanticDiff(semanticDiff(*a, *b))
                                                   : scriptDiff(*a, *b);
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) || f.write(out.data(), static_cast<qint64>(out.size())) != static_cast<qint64>(out.size())) {
        if (error)
            *error = tr("cannot write %1: %2").arg(path, f.errorString());
        return false;
    }
    if (format == Format::Script)
        f.setPermissions(f.permissions() | QFile::ExeOwner);
    return true;
}

void ChangesDialog::exportClicked()
{
    auto format = static_cast<Format>(format_->currentData().toInt());
    QString suggested = format == Format::Unified ? "changes.diff" : format == Format::Semantic ? "changes.txt" : "changes.sh";
    QString path = QFileDialog::getSaveFileName(this, tr("Export changes"), suggested);
    if (path.isEmpty())
        return;
    QString error;
    status_->setText(exportTo(path, format, &error) ? tr("Exported to %1").arg(path) : tr("Not exported: %1").arg(error));
}

#include "AttributeDelegate.h"

#include "AttributeModel.h"
#include "config/Schema.h"

#include <QAction>
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QSpinBox>
#include <QStyle>
#include <limits>
#include <QLineEdit>

using lido::config::AttrType;

AttributeDelegate::AttributeDelegate(AttributeModel* model, QObject* parent) : QStyledItemDelegate(parent), model_(model) {}

QWidget* AttributeDelegate::createEditor(QWidget* parent, const QStyleOptionViewItem& option, const QModelIndex& index) const
{
    const lido::config::AttributeSpec* spec = model_->spec(index.row());
    if (spec && (spec->type == AttrType::Bool || !spec->enumValues.empty())) {
        auto* box = new QComboBox(parent);
        box->setObjectName("attributeChoice");
        if (spec->type == AttrType::Bool)
            box->addItems({"true", "false"});
        for (const std::string& v : spec->enumValues)
            box->addItem(QString::fromStdString(v));
        return box;
    }
    QString name = model_->data(model_->index(index.row(), AttributeModel::Name), Qt::DisplayRole).toString();
    if (spec && spec->type == AttrType::UInt && spec->max <= static_cast<uint64_t>(std::numeric_limits<int>::max())) {
        // A spin box within the schema's range; what is typed is still checked with the schema's
        // own message as it is typed (a spin box alone would only refuse silently).
        auto* spin = new QSpinBox(parent);
        spin->setObjectName("attributeSpin");
        spin->setRange(static_cast<int>(spec->min), static_cast<int>(spec->max));
        spin->setToolTip(tr("%1 to %2").arg(spec->min).arg(spec->max));
        connect(spin->findChild<QLineEdit*>(), &QLineEdit::textChanged, this, [this, spin, spec, name](const QString& text) {
            QString message = QString::fromStdString(spec->check(text.trimmed().toStdString()));
            spin->setStyleSheet(message.isEmpty() ? QString() : QStringLiteral("QSpinBox { background: #ffd0d0; }"));
            emit problem(name, message);
        });
        return spin;
    }
    auto* line = new QLineEdit(parent);
    line->setObjectName("attributeEditor");
    bool isPath = spec && (spec->type == AttrType::Directory || spec->type == AttrType::Executable);
    if (spec && spec->type == AttrType::UInt)
        line->setPlaceholderText(tr("a whole number, %1 to %2").arg(spec->min).arg(spec->max));
    if (spec && spec->type == AttrType::TimeSpan)
        line->setPlaceholderText(tr("[days.]hh:mm:ss"));
    if (isPath) {
        // Browse, and say at once when the path is not there on this machine (the file may be meant
        // for another one, so this is a warning: Apply lets the validator decide).
        QAction* browse = line->addAction(line->style()->standardIcon(QStyle::SP_DirOpenIcon), QLineEdit::TrailingPosition);
        browse->setObjectName("browse");
        browse->setToolTip(tr("Browse…"));
        bool folder = spec->type == AttrType::Directory;
        connect(browse, &QAction::triggered, line, [line, folder] {
            QString picked = folder ? QFileDialog::getExistingDirectory(line, tr("Folder"), line->text())
                                    : QFileDialog::getOpenFileName(line, tr("Program"), line->text());
            if (!picked.isEmpty())
                line->setText(picked);
        });
    }
    connect(line, &QLineEdit::textChanged, this, [this, line, spec, name, isPath](const QString& text) {
        QString message = spec ? QString::fromStdString(spec->check(text.toStdString())) : QString();
        if (message.isEmpty())
            message = model_->patternProblem(name, text); // rewrite patterns: PCRE2 at each keystroke
        bool missing = message.isEmpty() && isPath && !text.isEmpty() && !text.contains('%') && !QFileInfo::exists(text);
        if (missing)
            message = spec->type == AttrType::Directory ? tr("warning: no folder %1 on this machine").arg(text) : tr("warning: no program %1 on this machine").arg(text);
        line->setStyleSheet(message.isEmpty() ? QString() : missing ? QStringLiteral("QLineEdit { background: #fff1c2; }") : QStringLiteral("QLineEdit { background: #ffd0d0; }"));
        line->setToolTip(message);
        emit problem(name, message);
    });
    (void)option;
    return line;
}

void AttributeDelegate::setEditorData(QWidget* editor, const QModelIndex& index) const
{
    QString value = index.data(Qt::EditRole).toString();
    if (auto* spin = qobject_cast<QSpinBox*>(editor)) {
        spin->setValue(value.toInt());
        return;
    }
    if (auto* box = qobject_cast<QComboBox*>(editor)) {
        int at = box->findText(value, Qt::MatchFixedString);
        box->setCurrentIndex(at >= 0 ? at : 0);
        return;
    }
    if (auto* line = qobject_cast<QLineEdit*>(editor))
        line->setText(value);
}

void AttributeDelegate::setModelData(QWidget* editor, QAbstractItemModel* model, const QModelIndex& index) const
{
    if (auto* spin = qobject_cast<QSpinBox*>(editor)) {
        spin->interpretText();
        model->setData(index, QString::number(spin->value()), Qt::EditRole);
        return;
    }
    if (auto* box = qobject_cast<QComboBox*>(editor))
        model->setData(index, box->currentText(), Qt::EditRole);
    else if (auto* line = qobject_cast<QLineEdit*>(editor))
        model->setData(index, line->text(), Qt::EditRole);
}

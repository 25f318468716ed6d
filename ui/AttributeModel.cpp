#include "AttributeModel.h"

#include "config/Schema.h"

#include <QFont>
#include <QGuiApplication>
#include <QPalette>

using namespace lido::config;

AttributeModel::AttributeModel(QObject* parent) : QAbstractTableModel(parent) {}

void AttributeModel::setRule(const ConfigElement* rule)
{
    ruleSyntax_.reset();
    if (rule)
        ruleSyntax_ = patternSyntaxOf(*rule);
}

QString AttributeModel::patternProblem(const QString& attribute, const QString& value) const
{
    bool pattern = (elementName_ == "match" && attribute == "url") || (elementName_ == "add" && attribute == "pattern" && path_.contains("/conditions/"));
    if (!ruleSyntax_ || !pattern)
        return {};
    std::string problem = lido::config::patternProblem(value.toStdString(), *ruleSyntax_);
    return problem.empty() ? QString() : tr("the pattern does not compile: %1").arg(QString::fromStdString(problem));
}

void AttributeModel::setElement(std::shared_ptr<const Config> config, const ConfigElement* element)
{
    beginResetModel();
    config_ = std::move(config);
    rows_.clear();
    path_ = element ? QString::fromStdString(element->path) : QString();
    elementName_ = element ? QString::fromStdString(element->name) : QString();
    ruleSyntax_.reset();
    if (element) {
        auto q = [](const std::string& s) { return QString::fromStdString(s); };
        auto problemOf = [&](const std::string& attr) {
            QString out;
            for (const Diagnostic& d : config_->diagnostics())
                if (d.path == element->path + "/@" + attr)
                    out += (out.isEmpty() ? "" : "\n") + q(d.message);
            return out;
        };
        if (element->spec)
            for (const AttributeSpec& a : element->spec->attributes) {
                const std::string* v = element->find(a.name);
                rows_.push_back(Row{q(a.name), q(v ? *v : a.defaultValue), q(a.defaultValue), q(std::string(typeName(a.type))),
                                    q(a.help), problemOf(a.name), v != nullptr, a.windowsOnly, &a, {}, {}});
            }
        for (const auto& [k, v] : element->attributes)
            if (!element->attributeSpec(k))
                rows_.push_back(Row{q(k), q(v), QString(), tr("unknown"), tr("Not known to Lido; kept unchanged."),
                                    problemOf(k), true, false, nullptr, {}, {}});
    }
    endResetModel();
    emit editsChanged(); // another element: nothing pending
}

QString AttributeModel::help(int row) const
{
    if (row < 0 || row >= static_cast<int>(rows_.size()))
        return {};
    const Row& r = rows_[static_cast<size_t>(row)];
    QString text = QStringLiteral("<b>%1</b> (%2)<br>%3").arg(r.name.toHtmlEscaped(), r.type, r.help.toHtmlEscaped());
    if (!r.defaultValue.isEmpty())
        text += tr("<br>Default: %1").arg(r.defaultValue.toHtmlEscaped());
    if (r.pending && !r.pendingProblem.isEmpty())
        text += QStringLiteral("<br><font color='#b00020'>%1</font>").arg(r.pendingProblem.toHtmlEscaped());
    else if (!r.pending && !r.problem.isEmpty())
        text += QStringLiteral("<br><font color='#b00020'>%1</font>").arg(r.problem.toHtmlEscaped());
    return text;
}

const AttributeSpec* AttributeModel::spec(int row) const
{
    return row >= 0 && row < static_cast<int>(rows_.size()) ? rows_[static_cast<size_t>(row)].spec : nullptr;
}

std::vector<std::pair<QString, QString>> AttributeModel::pendingEdits() const
{
    std::vector<std::pair<QString, QString>> out;
    for (const Row& r : rows_)
        if (r.pending)
            out.emplace_back(r.name, *r.pending);
    return out;
}

QString AttributeModel::firstProblem() const
{
    for (const Row& r : rows_)
        if (r.pending && !r.pendingProblem.isEmpty())
            return r.name + ": " + r.pendingProblem;
    return {};
}

void AttributeModel::discardEdits()
{
    bool any = false;
    for (Row& r : rows_) {
        any = any || r.pending.has_value();
        r.pending.reset();
        r.pendingProblem.clear();
    }
    if (any) {
        emit dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1));
        emit editsChanged();
    }
}

Qt::ItemFlags AttributeModel::flags(const QModelIndex& index) const
{
    Qt::ItemFlags f = QAbstractTableModel::flags(index);
    if (index.isValid() && index.column() == Value)
        f |= Qt::ItemIsEditable;
    return f;
}

bool AttributeModel::setData(const QModelIndex& index, const QVariant& value, int role)
{
    if (role != Qt::EditRole || !index.isValid() || index.column() != Value || index.row() >= static_cast<int>(rows_.size()))
        return false;
    Row& r = rows_[static_cast<size_t>(index.row())];
    QString v = value.toString();
    if (v == r.value) {
        r.pending.reset();
        r.pendingProblem.clear();
    } else {
        r.pending = v;
        r.pendingProblem = r.spec ? QString::fromStdString(r.spec->check(v.toStdString())) : QString();
        if (r.pendingProblem.isEmpty())
            r.pendingProblem = patternProblem(r.name, v);
    }
    emit dataChanged(this->index(index.row(), 0), this->index(index.row(), ColumnCount - 1));
    emit editsChanged();
    return true;
}

int AttributeModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

int AttributeModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant AttributeModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= static_cast<int>(rows_.size()))
        return {};
    const Row& r = rows_[static_cast<size_t>(index.row())];
    if (role == Qt::DisplayRole || role == Qt::EditRole) {
        switch (index.column()) {
        case Name: return r.name;
        case Value: return r.pending ? *r.pending : r.value;
        case Default: return r.defaultValue;
        case Type: return r.type;
        }
    }
    if (role == Qt::FontRole && r.written && index.column() == Value) {
        QFont f;
        f.setBold(true);
        return f;
    }
    if (role == Qt::ToolTipRole) {
        if (r.pending)
            return r.pendingProblem.isEmpty() ? r.help : r.pendingProblem;
        return r.problem.isEmpty() ? r.help : r.problem;
    }
    if (role == Qt::BackgroundRole && r.pending)
        return r.pendingProblem.isEmpty() ? QColor(255, 246, 204) : QColor(255, 205, 205); // edited; edited and refused
    if (role == Qt::ForegroundRole && r.inert)
        return QGuiApplication::palette().color(QPalette::Disabled, QPalette::Text);
    if (role == Qt::BackgroundRole && !r.problem.isEmpty())
        return QColor(255, 225, 225);
    return {};
}

QVariant AttributeModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Name: return tr("Attribute");
    case Value: return tr("Value");
    case Default: return tr("Default");
    case Type: return tr("Type");
    }
    return {};
}

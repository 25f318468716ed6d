#pragma once
// The attributes of one element as IIS's "Advanced Settings" grid shows them: every attribute the
// schema knows (with its default) plus any unknown ones written in the file. The Value column is
// editable: edits are pending (checked at once with the schema's own message) until applied or
// discarded.
#include "config/Config.h"

#include "config/RewriteRules.h"

#include <QAbstractTableModel>
#include <memory>
#include <optional>

class AttributeModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Name, Value, Default, Type, ColumnCount };
    explicit AttributeModel(QObject* parent = nullptr);

    void setElement(std::shared_ptr<const lido::config::Config> config, const lido::config::ConfigElement* element);
    QString help(int row) const;
    const lido::config::AttributeSpec* spec(int row) const;
    QString elementPath() const { return path_; }
    // A URL Rewrite rule's match/@url or conditions/add/@pattern (rule: the rule the element is
    // in, or null): what is wrong with a value typed for such an attribute, by PCRE2, else "".
    void setRule(const lido::config::ConfigElement* rule);
    QString patternProblem(const QString& attribute, const QString& value) const;

    // Pending edits, in row order: (attribute, value).
    std::vector<std::pair<QString, QString>> pendingEdits() const;
    // The first pending value the schema refuses, as "attribute: message"; empty when none.
    QString firstProblem() const;
    void discardEdits();

    Qt::ItemFlags flags(const QModelIndex& index) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role) override;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

signals:
    void editsChanged();

private:
    struct Row {
        QString name, value, defaultValue, type, help, problem;
        bool written = false;
        bool inert = false; // Windows-only: kept, no effect
        const lido::config::AttributeSpec* spec = nullptr;
        std::optional<QString> pending;
        QString pendingProblem;
    };
    std::shared_ptr<const lido::config::Config> config_;
    std::vector<Row> rows_;
    QString path_;
    QString elementName_;
    std::optional<lido::config::PatternSyntax> ruleSyntax_; // set inside a rewrite rule
};

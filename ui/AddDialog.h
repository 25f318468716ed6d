#pragma once
// Configuration → Add…: a pool, site, FastCGI application or handler. Its attributes are a form
// built from the schema, as the property editor's grid is (every attribute with its default,
// type and help; spin boxes, lists and as-you-type checks by the same delegate), with a line for
// nested ones (processModel.maxOpenFiles=4096); a site also gets its binding, folder and pool.
// The same validation as every other edit; the dialog stays open with the reason when refused.
#include "config/Config.h"

#include <QDialog>
#include <functional>
#include <memory>

class QComboBox;
class QLineEdit;
class QPlainTextEdit;
class QLabel;
class QTableView;
class QWidget;
class AttributeModel;

class AddDialog : public QDialog {
    Q_OBJECT
public:
    // apply: tries the edit (kind, key, ATTRIBUTE=VALUE list); returns the refusal, or "" when saved.
    // config: the file as loaded (the form's checks read it).
    AddDialog(std::function<QString(const QString& kind, const QString& key, const QStringList& attributes)> apply,
              std::shared_ptr<const lido::config::Config> config, QWidget* parent = nullptr);
    ~AddDialog() override;
    QComboBox* kindBox() const { return kind_; }
    QLineEdit* keyEdit() const { return key_; }
    QTableView* attributeGrid() const { return grid_; }
    AttributeModel* attributeModel() const { return model_; }
    QPlainTextEdit* attributesEdit() const { return attributes_; } // nested ones, ATTR.SUB=VALUE lines
    QLineEdit* bindingsEdit() const { return bindings_; }          // site: http/127.0.0.1:8081:
    QLineEdit* physicalPathEdit() const { return physicalPath_; }
    QLineEdit* poolEdit() const { return pool_; }
    QLabel* messageLabel() const { return message_; }
    // Sets an attribute in the form as typing it would (false: no such row).
    bool setValue(const QString& attribute, const QString& value);
    // What OK does: true (and the dialog accepted) when saved.
    bool tryAccept();

private:
    void kindChanged();
    std::function<QString(const QString&, const QString&, const QStringList&)> apply_;
    std::shared_ptr<const lido::config::Config> config_;
    std::unique_ptr<lido::config::ConfigElement> blank_; // the new element the form describes
    QComboBox* kind_;
    QLineEdit* key_;
    QTableView* grid_;
    AttributeModel* model_;
    QPlainTextEdit* attributes_;
    QWidget* siteFields_;
    QLineEdit *bindings_, *physicalPath_, *pool_;
    QLabel* help_;
    QLabel* message_;
};

#pragma once
// Configuration → Add…: a pool, site, FastCGI application or handler, with its attributes, checked
// by the same validation as every other edit; the dialog stays open with the reason when refused.
#include <QDialog>
#include <functional>

class QComboBox;
class QLineEdit;
class QPlainTextEdit;
class QLabel;

class AddDialog : public QDialog {
    Q_OBJECT
public:
    // apply: tries the edit (kind, key, ATTRIBUTE=VALUE lines); returns the refusal, or "" when saved.
    AddDialog(std::function<QString(const QString& kind, const QString& key, const QStringList& attributes)> apply, QWidget* parent = nullptr);
    QComboBox* kindBox() const { return kind_; }
    QLineEdit* keyEdit() const { return key_; }
    QPlainTextEdit* attributesEdit() const { return attributes_; }
    QLabel* messageLabel() const { return message_; }
    // What OK does: true (and the dialog accepted) when saved.
    bool tryAccept();

private:
    void kindChanged();
    std::function<QString(const QString&, const QString&, const QStringList&)> apply_;
    QComboBox* kind_;
    QLineEdit* key_;
    QPlainTextEdit* attributes_;
    QLabel* hint_;
    QLabel* message_;
};

#pragma once
// "Export changes…": the difference between two versions of the configuration — the running one,
// the saved file, any history entry or another file — shown side by side as the semantic list and
// the unified text, and exported to a file as a unified diff, the semantic text or a lidoctl
// script (IIS Manager's Generate Script).
#include <QDialog>
#include <functional>
#include <vector>

class QComboBox;
class QPlainTextEdit;
class QLabel;

class ChangesDialog : public QDialog {
    Q_OBJECT
public:
    enum class Format { Unified, Semantic, Script };
    // running: the running configuration's text (empty when no engine runs).
    ChangesDialog(const QString& file, std::function<QString()> running, QWidget* parent = nullptr);

    // Another version offered first in both lists (a server's running configuration), as key.
    void addSource(const QString& label, const QString& key, std::function<QString()> text);
    // Versions offered: "running", "saved", "history:ID", or "file:PATH".
    void compare(const QString& from, const QString& to);
    QString semanticText() const;
    QString unifiedText() const;
    // Writes the comparison as `format`; false (and why) when it cannot.
    bool exportTo(const QString& path, Format format, QString* error = nullptr) const;
    QComboBox* fromBox() const { return from_; }
    QComboBox* toBox() const { return to_; }

private:
    QString textOf(const QString& version, QString* name, QString* error) const;
    void recompute();
    void exportClicked();

    QString file_;
    std::function<QString()> running_;
    QComboBox *from_, *to_, *format_;
    QPlainTextEdit *semantic_, *unified_;
    QLabel* status_;
    QString fromText_, toText_, fromName_, toName_;
    struct Source {
        QString key, label;
        std::function<QString()> text;
    };
    std::vector<Source> sources_;
};

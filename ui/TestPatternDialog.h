#pragma once
// IIS Manager's "Test pattern" for a URL Rewrite rule: the rule's pattern (editable, checked by
// PCRE2 as it is typed) against a URL path you type, with its captures {R:0}, {R:1}, ... and what
// the rule as configured does with that URL (rewrite, redirect, answer), conditions included:
// IsFile and IsDirectory look at the site's folder when the rule belongs to a site.
#include <QDialog>
#include <memory>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QTableWidget;

namespace lido::config {
class Config;
struct ConfigElement;
}

class TestPatternDialog : public QDialog {
    Q_OBJECT
public:
    // rule: a rewrite rule element of config; root: the physical folder its URLs map to ("" for none).
    TestPatternDialog(std::shared_ptr<const lido::config::Config> config, const lido::config::ConfigElement* rule, QString root,
                      QWidget* parent = nullptr);

    QLineEdit* pattern() const { return pattern_; }
    QLineEdit* input() const { return input_; }
    QLabel* status() const { return status_; }
    QTableWidget* captures() const { return captures_; }
    QLabel* result() const { return result_; }
    void test();

private:
    std::shared_ptr<const lido::config::Config> config_;
    const lido::config::ConfigElement* rule_;
    QString root_, configuredPattern_;
    QLineEdit* pattern_;
    QComboBox* syntax_;
    QCheckBox* ignoreCase_;
    QLineEdit* input_;
    QLabel* status_;
    QTableWidget* captures_;
    QLabel* result_;
};

#include "AddDialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QVBoxLayout>

AddDialog::AddDialog(std::function<QString(const QString&, const QString&, const QStringList&)> apply, QWidget* parent)
    : QDialog(parent), apply_(std::move(apply)), kind_(new QComboBox), key_(new QLineEdit), attributes_(new QPlainTextEdit), hint_(new QLabel),
      message_(new QLabel)
{
    setWindowTitle(tr("Add to the configuration"));
    kind_->addItem(tr("Application pool"), "pool");
    kind_->addItem(tr("Site"), "site");
    kind_->addItem(tr("FastCGI application"), "fastcgi");
    kind_->addItem(tr("Handler mapping"), "handler");
    kind_->setObjectName("addKind");
    key_->setObjectName("addKey");
    attributes_->setObjectName("addAttributes");
    attributes_->setPlaceholderText(tr("One ATTRIBUTE=VALUE per line; dots for nested elements (processModel.maxOpenFiles=4096)"));
    hint_->setWordWrap(true);
    hint_->setStyleSheet("color: palette(mid)");
    message_->setObjectName("addMessage");
    message_->setMinimumHeight(message_->fontMetrics().height() * 4);
    message_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    message_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    attributes_->setMaximumHeight(attributes_->fontMetrics().height() * 7);
    message_->setWordWrap(true);
    message_->setStyleSheet("color: #b00020; font-weight: bold");
    auto* form = new QFormLayout;
    form->addRow(tr("&Kind:"), kind_);
    form->addRow(tr("&Name:"), key_);
    form->addRow(tr("&Attributes:"), attributes_);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("&Add"));
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(hint_);
    layout->addWidget(message_);
    layout->addWidget(buttons);
    connect(buttons, &QDialogButtonBox::accepted, this, &AddDialog::tryAccept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(kind_, &QComboBox::currentIndexChanged, this, &AddDialog::kindChanged);
    kindChanged();
    resize(680, 400);
}

void AddDialog::kindChanged()
{
    QString kind = kind_->currentData().toString();
    key_->setPlaceholderText(kind == "fastcgi" ? tr("full path of the program, optionally |arguments") : tr("unique name"));
    hint_->setText(kind == "pool"      ? tr("e.g. queueLength=500, startMode=AlwaysRunning, processModel.userName=www-data")
                   : kind == "site"    ? tr("needed: bindings=http/127.0.0.1:8081: physicalPath=/srv/shop; e.g. applicationPool=php")
                   : kind == "fastcgi" ? tr("e.g. maxInstances=0, instanceMaxRequests=10000, monitorChangesTo=/etc/php/php.ini")
                                       : tr("needed: path=*.php verb=GET,POST modules=FastCgiModule scriptProcessor=/usr/bin/php-cgi"));
}

bool AddDialog::tryAccept()
{
    QStringList attributes;
    for (const QString& line : attributes_->toPlainText().split('\n'))
        if (!line.trimmed().isEmpty())
            attributes << line.trimmed();
    QString refusal = key_->text().trimmed().isEmpty() ? tr("give it a name") : apply_(kind_->currentData().toString(), key_->text().trimmed(), attributes);
    message_->setText(refusal);
    if (!refusal.isEmpty())
        return false;
    accept();
    return true;
}

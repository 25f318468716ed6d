#include "AddDialog.h"

#include "AttributeDelegate.h"
#include "AttributeModel.h"

#include "config/Schema.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QTableView>
#include <QVBoxLayout>

using lido::config::ConfigElement;

namespace {

struct Kind {
    const char* id;
    const char* spec; // the schema's element
    const char* pathFormat;
};
constexpr Kind kKinds[] = {
    {"pool", "system.applicationHost/applicationPools/add", "applicationPools/add[@name='%1']"},
    {"site", "system.applicationHost/sites/site", "sites/site[@name='%1']"},
    {"fastcgi", "system.webServer/fastCgi/application", "fastCgi/application[@fullPath='%1']"},
    {"handler", "system.webServer/handlers/add", "handlers/add[@name='%1']"},
};

} // namespace

AddDialog::AddDialog(std::function<QString(const QString&, const QString&, const QStringList&)> apply,
                     std::shared_ptr<const lido::config::Config> config, QWidget* parent)
    : QDialog(parent), apply_(std::move(apply)), config_(std::move(config)), kind_(new QComboBox), key_(new QLineEdit), grid_(new QTableView),
      model_(new AttributeModel(this)), attributes_(new QPlainTextEdit), siteFields_(new QWidget), bindings_(new QLineEdit),
      physicalPath_(new QLineEdit), pool_(new QLineEdit), help_(new QLabel), message_(new QLabel)
{
    setWindowTitle(tr("Add to the configuration"));
    kind_->addItem(tr("Application pool"), "pool");
    kind_->addItem(tr("Site"), "site");
    kind_->addItem(tr("FastCGI application"), "fastcgi");
    kind_->addItem(tr("Handler mapping"), "handler");
    kind_->setObjectName("addKind");
    key_->setObjectName("addKey");
    grid_->setObjectName("addGrid");
    grid_->setModel(model_);
    auto* delegate = new AttributeDelegate(model_, this);
    grid_->setItemDelegateForColumn(AttributeModel::Value, delegate);
    grid_->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed | QAbstractItemView::AnyKeyPressed);
    grid_->setSelectionBehavior(QAbstractItemView::SelectRows);
    grid_->setSelectionMode(QAbstractItemView::SingleSelection);
    grid_->verticalHeader()->hide();
    grid_->verticalHeader()->setDefaultSectionSize(grid_->fontMetrics().height() + 8);
    grid_->horizontalHeader()->setStretchLastSection(true);
    attributes_->setObjectName("addAttributes");
    attributes_->setPlaceholderText(tr("Nested settings, one ELEMENT.ATTRIBUTE=VALUE per line (processModel.maxOpenFiles=4096)"));
    attributes_->setMaximumHeight(attributes_->fontMetrics().height() * 4);
    bindings_->setObjectName("addBindings");
    physicalPath_->setObjectName("addPhysicalPath");
    pool_->setObjectName("addPool");
    bindings_->setPlaceholderText(tr("http/127.0.0.1:8081: (PROTOCOL/IP:PORT:HOST, comma-separated)"));
    physicalPath_->setPlaceholderText(tr("/srv/shop: the folder of its root application"));
    pool_->setPlaceholderText(tr("the application pool of its root application"));
    auto* siteForm = new QFormLayout(siteFields_);
    siteForm->setContentsMargins(0, 0, 0, 0);
    siteForm->addRow(tr("&Bindings:"), bindings_);
    siteForm->addRow(tr("&Folder:"), physicalPath_);
    siteForm->addRow(tr("Application &pool:"), pool_);
    help_->setObjectName("addHelp");
    help_->setWordWrap(true);
    help_->setTextFormat(Qt::RichText);
    help_->setMinimumHeight(help_->fontMetrics().height() * 3);
    help_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    message_->setObjectName("addMessage");
    message_->setMinimumHeight(message_->fontMetrics().height() * 3);
    message_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    message_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    message_->setWordWrap(true);
    message_->setStyleSheet("color: #b00020; font-weight: bold");
    auto* form = new QFormLayout;
    form->addRow(tr("&Kind:"), kind_);
    form->addRow(tr("&Name:"), key_);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("&Add"));
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(siteFields_);
    layout->addWidget(grid_, 1);
    layout->addWidget(help_);
    layout->addWidget(attributes_);
    layout->addWidget(message_);
    layout->addWidget(buttons);
    connect(buttons, &QDialogButtonBox::accepted, this, &AddDialog::tryAccept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(kind_, &QComboBox::currentIndexChanged, this, &AddDialog::kindChanged);
    connect(grid_->selectionModel(), &QItemSelectionModel::currentChanged, this, [this](const QModelIndex& i) { help_->setText(model_->help(i.row())); });
    connect(model_, &AttributeModel::editsChanged, this, [this] { help_->setText(model_->help(grid_->currentIndex().row())); });
    connect(delegate, &AttributeDelegate::problem, this, [this](const QString& attribute, const QString& problem) {
        QString base = model_->help(grid_->currentIndex().row());
        help_->setText(problem.isEmpty() ? base : base + QStringLiteral("<br><font color='#b00020'><b>%1: %2</b></font>").arg(attribute.toHtmlEscaped(), problem.toHtmlEscaped()));
    });
    kindChanged();
    resize(760, 620);
}

AddDialog::~AddDialog() = default;

void AddDialog::kindChanged()
{
    QString kind = kind_->currentData().toString();
    key_->setPlaceholderText(kind == "fastcgi" ? tr("full path of the program, optionally |arguments") : tr("unique name"));
    siteFields_->setVisible(kind == "site");
    attributes_->setPlaceholderText(tr("Nested settings, one ELEMENT.ATTRIBUTE=VALUE per line (%1)")
                                        .arg(kind == "pool"      ? "processModel.maxOpenFiles=4096"
                                             : kind == "site"    ? "limits.maxConnections=500"
                                             : kind == "fastcgi" ? "environmentVariables are edited once it exists"
                                                                 : "nothing nested: every attribute is above"));
    // A blank element of that kind: the grid lists what the schema knows of it, with defaults.
    const Kind* k = &kKinds[0];
    for (const Kind& one : kKinds)
        if (kind == one.id)
            k = &one;
    blank_ = std::make_unique<ConfigElement>();
    blank_->spec = lido::config::Schema::instance().find(k->spec);
    blank_->name = blank_->spec ? std::string(blank_->spec->name()) : std::string();
    blank_->path = QString(k->pathFormat).arg(tr("new")).toStdString();
    model_->setElement(config_, blank_.get());
    // The key is the Name above; Windows-only attributes have no meaning here.
    for (int row = 0; row < model_->rowCount(); ++row) {
        const lido::config::AttributeSpec* spec = model_->spec(row);
        grid_->setRowHidden(row, spec && (spec->key || spec->windowsOnly || (kind == "fastcgi" && spec->name == "arguments")));
    }
    grid_->resizeColumnToContents(AttributeModel::Name);
    help_->setText(blank_->spec ? QString::fromStdString(blank_->spec->help).toHtmlEscaped() : QString());
}

bool AddDialog::setValue(const QString& attribute, const QString& value)
{
    for (int row = 0; row < model_->rowCount(); ++row)
        if (model_->index(row, AttributeModel::Name).data().toString() == attribute)
            return model_->setData(model_->index(row, AttributeModel::Value), value, Qt::EditRole);
    return false;
}

bool AddDialog::tryAccept()
{
    QStringList attributes;
    for (const auto& [name, value] : model_->pendingEdits())
        attributes << name + "=" + value;
    if (kind_->currentData().toString() == "site")
        for (auto [name, edit] : {std::pair{"bindings", bindings_}, {"physicalPath", physicalPath_}, {"applicationPool", pool_}})
            if (!edit->text().trimmed().isEmpty())
                attributes << QString(name) + "=" + edit->text().trimmed();
    for (const QString& line : attributes_->toPlainText().split('\n'))
        if (!line.trimmed().isEmpty())
            attributes << line.trimmed();
    QString refusal = key_->text().trimmed().isEmpty() ? tr("give it a name")
                      : !model_->firstProblem().isEmpty() ? model_->firstProblem()
                                                           : apply_(kind_->currentData().toString(), key_->text().trimmed(), attributes);
    message_->setText(refusal);
    if (!refusal.isEmpty())
        return false;
    accept();
    return true;
}
